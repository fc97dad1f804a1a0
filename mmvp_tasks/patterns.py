"""The nine visual patterns of MMVP (Tong et al., 2024, Sec. 3 and Fig. 5).

Each pattern has a short code (the unofficial AMVICC question mapping uses them), the paper's name,
and the `Type` folder name used by the MMVP-VLM hub dataset. The order is the paper's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VisualPattern:
    code: str
    name: str  # as in the paper
    vlm_type: str  # folder / `Type` value in MMVP/MMVP_VLM

    @property
    def slug(self) -> str:
        """Metric-name-safe form of the paper name, e.g. ``orientation_and_direction``."""
        return self.name.lower().replace(" ", "_")


PATTERNS: tuple[VisualPattern, ...] = (
    VisualPattern("od", "Orientation and Direction", "Orientation"),
    VisualPattern("pf", "Presence of Specific Features", "Presence"),
    VisualPattern("sc", "State and Condition", "State"),
    VisualPattern("qc", "Quantity and Count", "Quantity"),
    VisualPattern("pr", "Positional and Relational Context", "Spatial"),
    VisualPattern("ca", "Color and Appearance", "Color"),
    VisualPattern("sh", "Structural and Physical Characteristics", "Structural Character"),
    VisualPattern("tx", "Text", "Text"),
    VisualPattern("vp", "Viewpoint and Perspective", "Camera Perspective"),
)

PATTERN_BY_CODE = {p.code: p for p in PATTERNS}
PATTERN_BY_VLM_TYPE = {p.vlm_type: p for p in PATTERNS}
