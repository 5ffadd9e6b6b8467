"""The dashboard's panel vocabulary: a panel as data (:class:`_PanelSpec`) and how it becomes a Grafana panel.

Pure module (no cdk8s import), shared by :mod:`.dashboard` (the Redis panels) and :mod:`.tenant_dashboard` (the
tenant rows).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dashboard_builders
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
)

LEGEND: Final[str] = "{{pod}} ({{role}})"
"""Legend of every per-pod series: the pod name and its ServiceMonitor role."""


class _Kind(enum.Enum):
    STAT = "stat"
    TIMESERIES = "timeseries"


class _Mapping(enum.Enum):
    """How a 0/1 gauge is spelled on a panel."""

    NONE = "none"
    UP_DOWN = "up_down"
    OK_FAILED = "ok_failed"


@dataclass(frozen=True, kw_only=True, slots=True)
class _Query:
    expr: str
    legend: str = LEGEND


@dataclass(frozen=True, kw_only=True, slots=True)
class _PanelSpec:
    title: str
    description: str
    kind: _Kind
    queries: tuple[_Query, ...]
    unit: str = "short"
    mapping: _Mapping = _Mapping.NONE
    text_mode: common.BigValueTextMode = common.BigValueTextMode.VALUE_AND_NAME
    min_value: float | None = None
    max_value: float | None = None


def _mappings(mapping: _Mapping) -> list[ValueMapping]:
    if mapping is _Mapping.UP_DOWN:
        words = (("DOWN", "red"), ("UP", "green"))
    elif mapping is _Mapping.OK_FAILED:
        words = (("FAILED", "red"), ("OK", "green"))
    else:
        return []
    return [
        ValueMap(
            options={
                str(value): ValueMappingResult(text=text, color=color, index=value)
                for value, (text, color) in enumerate(words)
            }
        )
    ]


def _build_panel(spec: _PanelSpec, panel_id: int, datasource: DataSourceRef) -> stat.Panel | timeseries.Panel:
    targets: list[Builder[Dataquery]] = [
        prometheus.Dataquery().expr(q.expr).legend_format(q.legend).ref_id(chr(ord("A") + i)).range()
        for i, q in enumerate(spec.queries)
    ]
    panel: stat.Panel | timeseries.Panel
    if spec.kind is _Kind.STAT:
        panel = (
            stat.Panel()
            .height(5)
            .span(6)
            .color_mode(
                common.BigValueColorMode.BACKGROUND
                if spec.mapping is not _Mapping.NONE
                else common.BigValueColorMode.NONE
            )
            .graph_mode(common.BigValueGraphMode.NONE)
            .text_mode(spec.text_mode)
            .orientation(common.VizOrientation.HORIZONTAL)
            .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        )
    else:
        panel = (
            timeseries.Panel()
            .height(8)
            .span(12)
            .legend(
                common_builders.VizLegendOptions()
                .display_mode(common.LegendDisplayMode.TABLE)
                .placement(common.LegendPlacement.BOTTOM)
                .show_legend(True)
                .calcs(["lastNotNull", "max"])
            )
            .tooltip(
                common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.NONE)
            )
        )
    panel = (
        panel.id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(datasource)
        .unit(spec.unit)
        .targets(targets)
    )
    if spec.mapping is not _Mapping.NONE:
        panel = panel.mappings(_mappings(spec.mapping)).thresholds(
            dashboard_builders.ThresholdsConfig()
            .mode(ThresholdsMode.ABSOLUTE)
            .steps([Threshold(value=None, color="red"), Threshold(value=1, color="green")])
        )
    if spec.min_value is not None:
        panel = panel.min(spec.min_value)
    if spec.max_value is not None:
        panel = panel.max(spec.max_value)
    return panel
