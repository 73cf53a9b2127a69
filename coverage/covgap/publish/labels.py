"""The words shown to people, in Vietnamese (default) and English.

Every label of the map and the lists comes from :data:`LABELS`, so a
translation is one table to edit.
"""

from __future__ import annotations

from covgap.errors import ParameterError

__all__ = ["JOINT_LABELS", "LABELS", "LANGUAGES", "label", "labels_for"]

LANGUAGES = ("vi", "en")

LABELS: dict[str, dict[str, str]] = {
    "communes": {"vi": "Ranh giới xã", "en": "Commune boundaries"},
    "villages": {"vi": "Thôn, bản", "en": "Villages"},
    "towers": {"vi": "Trạm phát sóng hiện có", "en": "Existing towers"},
    "grid": {"vi": "Lưới điện trung thế", "en": "Medium-voltage grid"},
    "village": {"vi": "Thôn/bản", "en": "Village"},
    "commune": {"vi": "Xã", "en": "Commune"},
    "code": {"vi": "Mã", "en": "Code"},
    "households": {"vi": "Số hộ", "en": "Households"},
    "population": {"vi": "Dân số", "en": "Population"},
    "mobile_signal": {"vi": "Sóng di động (khảo sát)", "en": "Mobile signal (survey)"},
    "grid_power": {"vi": "Điện lưới quốc gia", "en": "National-grid power"},
    "operator": {"vi": "Nhà mạng", "en": "Operator"},
    "site": {"vi": "Trạm", "en": "Site"},
    "radio": {"vi": "Công nghệ", "en": "Technology"},
    "cells": {"vi": "Số cell", "en": "Cells"},
    "yes": {"vi": "Có", "en": "Yes"},
    "no": {"vi": "Không", "en": "No"},
    "estimated": {"vi": "ước tính", "en": "estimated"},
    "unknown": {"vi": "Chưa rõ", "en": "Unknown"},
    "status": {"vi": "Tình trạng", "en": "Status"},
    "covered_powered": {"vi": "Có sóng, có điện", "en": "Covered, powered"},
    "uncovered_powered": {"vi": "Không có sóng, có điện", "en": "No signal, powered"},
    "covered_unpowered": {"vi": "Có sóng, không có điện", "en": "Covered, no grid power"},
    "uncovered_unpowered": {"vi": "Không có sóng, không có điện", "en": "No signal, no grid power"},
    "status_unknown": {"vi": "Chưa rõ tình trạng", "en": "Status unknown"},
    "signal_layer": {"vi": "Vùng phủ sóng mô phỏng (RSRP)", "en": "Modelled coverage (RSRP)"},
    "signal_strong": {"vi": "Rất tốt (≥ −90 dBm)", "en": "Strong (≥ −90 dBm)"},
    "signal_good": {"vi": "Tốt (−100 … −90 dBm)", "en": "Good (−100 … −90 dBm)"},
    "signal_basic": {"vi": "Cơ bản (−110 … −100 dBm)", "en": "Basic (−110 … −100 dBm)"},
    "signal_weak": {"vi": "Yếu (−120 … −110 dBm)", "en": "Weak (−120 … −110 dBm)"},
    "modelled_status": {"vi": "Sóng di động (mô hình)", "en": "Mobile signal (model)"},
    "best_server": {"vi": "Trạm phục vụ tốt nhất", "en": "Best server"},
    "share_covered": {"vi": "Tỷ lệ hộ có sóng (mô hình)", "en": "Households covered (model)"},
    "covered": {"vi": "Có sóng", "en": "Covered"},
    "uncovered": {"vi": "Không có sóng", "en": "Not covered"},
    "planned_sites": {"vi": "Vị trí trạm đề xuất (xếp hạng)", "en": "Proposed sites (ranked)"},
    "after_layer": {"vi": "Vùng phủ sóng sau quy hoạch", "en": "Coverage after the plan"},
    "rank": {"vi": "Thứ tự ưu tiên", "en": "Priority rank"},
    "villages_gained": {"vi": "Thôn/bản được phủ sóng", "en": "Villages gained"},
    "households_gained": {"vi": "Số hộ được phủ sóng", "en": "Households gained"},
    "cost_vnd": {"vi": "Tổng chi phí (VNĐ)", "en": "Total cost (VND)"},
    "power_option": {"vi": "Nguồn điện", "en": "Power"},
    "backhaul_option": {"vi": "Truyền dẫn", "en": "Backhaul"},
    "planned_site": {"vi": "Trạm đề xuất phủ sóng", "en": "Covered by proposed site"},
    "status_uncertain": {
        "vi": "Trạng thái mô hình không chắc chắn (độ nhạy)",
        "en": "Modelled status uncertain (sensitivity)",
    },
    "legend": {"vi": "Chú giải", "en": "Legend"},
    "layers": {"vi": "Lớp bản đồ", "en": "Map layers"},
    "close": {"vi": "Đóng", "en": "Close"},
    "commune_labels": {"vi": "Tên xã", "en": "Commune names"},
    "population_gained": {"vi": "Số dân được phủ sóng", "en": "People gained"},
    "power_cost": {"vi": "Chi phí cấp điện (VNĐ)", "en": "Power cost (VND)"},
    "backhaul_cost": {"vi": "Chi phí truyền dẫn (VNĐ)", "en": "Backhaul cost (VND)"},
    "cost_usd": {"vi": "Tổng chi phí (USD)", "en": "Total cost (USD)"},
    "mast_height": {"vi": "Chiều cao cột (m)", "en": "Mast height (m)"},
    "distance_to_grid": {"vi": "Khoảng cách tới lưới điện (m)", "en": "Distance to the grid (m)"},
    "opt_grid": {"vi": "Điện lưới", "en": "Grid"},
    "opt_solar": {"vi": "Điện mặt trời", "en": "Solar"},
    "opt_microwave": {"vi": "Vi ba", "en": "Microwave"},
    "opt_fibre": {"vi": "Cáp quang", "en": "Fibre"},
    "opt_satellite": {"vi": "Vệ tinh", "en": "Satellite"},
    "voltage": {"vi": "Điện áp (kV)", "en": "Voltage (kV)"},
    "technology_note": {
        "vi": "2G = GSM, 3G = UMTS, 4G = LTE, 5G = NR",
        "en": "2G = GSM, 3G = UMTS, 4G = LTE, 5G = NR",
    },
    "size_note": {"vi": "Kích thước theo số hộ", "en": "Size by households"},
    "households_n": {"vi": "{n} hộ", "en": "{n} households"},
    "rank_note": {
        "vi": "Số trên biểu tượng = thứ tự ưu tiên",
        "en": "The number is the priority rank",
    },
    "after_note": {
        "vi": "Trạm hiện có và trạm đề xuất cộng lại",
        "en": "Existing and proposed sites together",
    },
    "basemap_osm": {"vi": "Bản đồ OpenStreetMap", "en": "OpenStreetMap"},
    "basemap_topo": {"vi": "Bản đồ địa hình OpenTopoMap", "en": "OpenTopoMap (topographic)"},
    "basemap_hillshade": {"vi": "Bóng địa hình (DEM)", "en": "Hillshade (DEM)"},
    "basemap_none": {"vi": "Không có nền", "en": "No basemap"},
    "hillshade_note": {
        "vi": "Nền: bóng địa hình tính từ DEM, chiếu sáng từ hướng tây bắc",
        "en": "Basemap: hillshade of the DEM, lit from the north-west",
    },
    "search_placeholder": {"vi": "Tìm thôn/bản…", "en": "Find a village…"},
    "search_none": {"vi": "Không tìm thấy", "en": "No match"},
    "measure": {"vi": "Đo khoảng cách", "en": "Measure a distance"},
    "measure_hint": {
        "vi": "Bấm lên bản đồ để thêm điểm; bấm lại nút để kết thúc",
        "en": "Click the map to add points; click the button again to finish",
    },
    "measure_total": {"vi": "Tổng chiều dài", "en": "Total length"},
    "fullscreen": {"vi": "Toàn màn hình", "en": "Full screen"},
    "offline_note": {
        "vi": "Bản đồ ngoại tuyến: không cần mạng",
        "en": "Offline map: no network needed",
    },
    "synthetic": {
        "vi": "DỮ LIỆU TỔNG HỢP (mô phỏng, không phải số liệu thật)",
        "en": "SYNTHETIC DATA (simulated, not real figures)",
    },
    "summary_line": {
        "vi": "{villages} thôn/bản · {uncovered} không có sóng · {unpowered} không có điện lưới",
        "en": "{villages} villages · {uncovered} without signal · {unpowered} without grid power",
    },
    # -- charts (covgap.publish.plots) --
    "plot_sites": {"vi": "Số trạm mới", "en": "New sites"},
    "plot_households": {"vi": "Số hộ được phủ sóng", "en": "Households covered"},
    "plot_cost": {"vi": "Chi phí (tỷ đồng)", "en": "Cost (bn VND)"},
    "plot_greedy": {"vi": "Tham lam (greedy)", "en": "Greedy"},
    "plot_exact": {"vi": "Tối ưu chính xác", "en": "Exact optimum"},
    "plot_chosen": {"vi": "Phương án đã chọn", "en": "Chosen plan"},
    "plot_demand": {"vi": "Tổng số hộ chưa có sóng", "en": "Households in uncovered villages"},
    "plot_curve_title": {
        "vi": "Số hộ được phủ sóng theo số trạm mới",
        "en": "Households covered against new sites",
    },
    "plot_cost_title": {"vi": "Chi phí và số hộ được phủ sóng", "en": "Cost against coverage"},
    "plot_status_title": {"vi": "Tình trạng thôn, bản theo xã", "en": "Village status by commune"},
    "plot_n_villages": {"vi": "Số thôn, bản", "en": "Villages"},
    "plot_map_title": {"vi": "Phương án trạm mới", "en": "Proposed tower sites"},
    "plot_planned": {"vi": "Trạm đề xuất (thứ hạng)", "en": "Proposed site (rank)"},
    "plot_uncertain": {"vi": "Tình trạng không chắc chắn", "en": "Status uncertain"},
    "plot_synthetic": {"vi": "DỮ LIỆU TỔNG HỢP", "en": "SYNTHETIC DATA"},
    "sectors": {"vi": "Hướng anten (sector)", "en": "Sector antennas"},
    "sectors_note": {
        "vi": "Mỗi hình quạt: hướng và độ rộng búp sóng 3 dB của một sector",
        "en": "Each wedge: one sector's azimuth and 3 dB beamwidth",
    },
}


#: Labels of the joint plan's map layers (``covgap run --joint``); kept apart from
#: :data:`LABELS` so that maps without the joint plan stay byte-identical.
JOINT_LABELS: dict[str, dict[str, str]] = {
    "joint_lines": {
        "vi": "Đường dây trung thế đề xuất (kế hoạch chung)",
        "en": "Proposed medium-voltage lines (joint plan)",
    },
    "joint_villages": {
        "vi": "Thôn/bản được cấp điện (kế hoạch chung)",
        "en": "Villages getting grid power (joint plan)",
    },
    "joint_sites": {"vi": "Trạm phát sóng (kế hoạch chung)", "en": "Tower sites (joint plan)"},
    "joint_line": {"vi": "Đường dây", "en": "Line"},
    "joint_from": {"vi": "Từ", "en": "From"},
    "joint_to": {"vi": "Đến", "en": "To"},
    "joint_length": {"vi": "Chiều dài (m)", "en": "Length (m)"},
    "joint_paid_by": {"vi": "Bên chi trả", "en": "Paid by"},
    "joint_utility": {"vi": "Điện lực", "en": "Power utility"},
    "joint_operators": {"vi": "Nhà mạng", "en": "Operators"},
    "joint_grid": {"vi": "Lưới điện hiện có", "en": "Existing grid"},
    "joint_households_powered": {"vi": "Số hộ được cấp điện", "en": "Households getting power"},
    "joint_powered_by": {"vi": "Cấp điện từ đường dây", "en": "Powered by line"},
    "joint_steep": {"vi": "Đoạn dốc (m)", "en": "On steep ground (m)"},
    "joint_note": {
        "vi": "Đường dây đi theo địa hình, không theo đường thẳng",
        "en": "Lines follow the terrain, not straight lines",
    },
    "joint_site_note": {
        "vi": "Số trên biểu tượng = thứ tự theo số hộ được phủ sóng",
        "en": "The number orders the sites by households gained",
    },
}


def label(key: str, lang: str = "vi") -> str:
    """Return the label ``key`` in ``lang`` ("vi" or "en")."""
    if lang not in LANGUAGES:
        raise ParameterError(f"unknown language {lang!r}; expected one of {', '.join(LANGUAGES)}")
    return (LABELS[key] if key in LABELS else JOINT_LABELS[key])[lang]


def labels_for(lang: str = "vi") -> dict[str, str]:
    """Return every label in ``lang`` as one ``{key: text}`` table (for the map's script)."""
    return {key: label(key, lang) for key in LABELS}
