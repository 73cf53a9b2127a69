"""Fixed facts and parameters of the synthetic Điện Biên province preset.

The 130 communes' names, districts and 2009 census populations are real
(``census2009_communes_dien_bien.csv``, censusVN2009, MIT); so are their
approximate centroids and areas, measured once on the census polygons in
UTM 48N and written here as figures.  The polygons themselves are not part of
the project: the generator draws synthetic commune shapes from these centroids
and areas.  Fifteen communes created after the 2009 census have no census
population (``None``); the generator models one for them from their
district's density, and writes no population for them.  Commune codes are
``DB-`` plus the census commune identifier.
"""

from __future__ import annotations

__all__ = [
    "COMMUNES",
    "DEM_BUFFER_M",
    "DEM_CELL_M",
    "N_CANDIDATES",
    "N_SHARED_LOCATIONS",
    "N_SITE_LOCATIONS",
    "N_UNPOWERED",
    "N_VILLAGES",
    "PROVINCE_AREA_KM2",
    "PROVINCE_NAME",
    "SEED",
    "SURVEY_ERROR_RATE",
]

SEED = 20090402
"""Seed of every random draw of the preset (the day after the census day)."""

PROVINCE_NAME = "Điện Biên"
PROVINCE_AREA_KM2 = 9542.1
"""Sum of the communes' areas (census polygons, UTM 48N)."""

DEM_CELL_M = 30.0
DEM_BUFFER_M = 15_000.0
"""DEM margin around the province's bounding box: the default scenario's 15 km radius."""

N_VILLAGES = 1500
"""Villages in the province (the province reports about 1,500 bản)."""

N_UNPOWERED = 180
"""Villages the grid does not reach (12 %, the district demo's share is 14 %)."""

N_SITE_LOCATIONS = 150
"""Tower locations; the first :data:`N_SHARED_LOCATIONS` carry all three operators."""

N_SHARED_LOCATIONS = 125
"""Locations shared by Viettel, VNPT and MobiFone: 125 x 3 + 25 = 400 sites."""

N_CANDIDATES = 10_500
"""Rows of ``towers/sites_candidates.csv`` (the operators' site-acquisition list)."""

SURVEY_ERROR_RATE = 0.04
"""Share of villages whose survey answer disagrees with the terrain model."""

# (code, name, district, 2009 population or None, centroid lat, lon, area km²)
COMMUNES: tuple[tuple[str, str, str, int | None, float, float, float], ...] = (
    ("DB-3020101", "Phường Mường Thanh", "Thành phố Điện Biên Phủ", 8709, 21.3835, 103.0184, 1.2),
    ("DB-3020102", "Phường Nam Thanh", "Thành phố Điện Biên Phủ", 8520, 21.3731, 103.0293, 4.4),
    ("DB-3020103", "Phường Thanh Bình", "Thành phố Điện Biên Phủ", 3511, 21.3980, 103.0101, 0.8),
    ("DB-3020104", "Phường Tân Thanh", "Thành phố Điện Biên Phủ", 8210, 21.3923, 103.0213, 1.5),
    ("DB-3020105", "Phường Him Lam", "Thành phố Điện Biên Phủ", 6633, 21.4036, 103.0319, 6.5),
    ("DB-3020106", "Phường Thanh Trường", "Thành phố Điện Biên Phủ", 5774, 21.4038, 103.0056, 5.8),
    ("DB-3020107", "Xã Thanh Minh", "Thành phố Điện Biên Phủ", 1270, 21.4275, 103.0522, 24.9),
    ("DB-3020109", "Phường Noong Bua", "Thành phố Điện Biên Phủ", 4565, 21.3866, 103.0348, 3.1),
    ("DB-3020110", "Xã Tà Lèng", "Thành phố Điện Biên Phủ", 2500, 21.3908, 103.0672, 15.6),
    ("DB-3020211", "Xã Chà Cang", "Huyện Nậm Pồ", 3576, 21.9486, 102.8214, 107.7),
    ("DB-3020212", "Xã Pa Tần", "Huyện Nậm Pồ", 2467, 22.0359, 102.7633, 162.9),
    ("DB-3020213", "Xã Nậm Chua", "Huyện Nậm Pồ", None, 21.8062, 102.7216, 57.0),
    ("DB-3020214", "Xã Nậm Nhừ", "Huyện Nậm Pồ", None, 21.8402, 102.6747, 48.9),
    ("DB-3020215", "Xã Nà Bủng", "Huyện Nậm Pồ", 5072, 21.7214, 102.6851, 78.8),
    ("DB-3020216", "Xã Phìn Hồ", "Huyện Nậm Pồ", 1687, 21.8502, 102.9232, 120.3),
    ("DB-3020217", "Xã Na Cô Sa", "Huyện Nậm Pồ", 2367, 21.9693, 102.5965, 132.8),
    ("DB-3020219", "Xã Chà Tở", "Huyện Nậm Pồ", 2009, 21.9499, 102.9654, 123.5),
    ("DB-3020220", "Xã Nậm Khăn", "Huyện Nậm Pồ", 1978, 22.0332, 102.9084, 104.3),
    ("DB-3020221", "Xã Si Pa Phìn", "Huyện Nậm Pồ", 4224, 21.7671, 102.9175, 124.5),
    ("DB-3020222", "Xã Vàng Đán", "Huyện Nậm Pồ", None, 21.7239, 102.7511, 84.5),
    ("DB-3020223", "Xã Chà Nưa", "Huyện Nậm Pồ", 2098, 21.9096, 102.8774, 98.3),
    ("DB-3020224", "Xã Nà Khoa", "Huyện Nậm Pồ", 4531, 21.8990, 102.6831, 82.7),
    ("DB-3020225", "Xã Nà Hỳ", "Huyện Nậm Pồ", 3981, 21.8070, 102.7863, 86.3),
    ("DB-3020226", "Xã Nậm Tin", "Huyện Nậm Pồ", None, 21.9339, 102.7478, 90.5),
    ("DB-3020301", "Phường Na Lay", "Thị xã Mường Lay", 6556, 22.0356, 103.1510, 22.5),
    ("DB-3020305", "Phường Sông Đà", "Thị xã Mường Lay", 3770, 22.0693, 103.1330, 29.2),
    ("DB-3020307", "Xã Lay Nưa", "Thị xã Mường Lay", 4428, 22.0128, 103.1192, 60.6),
    ("DB-3020403", "Xã Mường Nhé", "Huyện Mường Nhé", 4337, 22.1738, 102.4384, 228.0),
    ("DB-3020405", "Xã Sín Thầu", "Huyện Mường Nhé", 2105, 22.3725, 102.2253, 163.8),
    ("DB-3020407", "Xã Chung Chải", "Huyện Mường Nhé", 2275, 22.2709, 102.3933, 211.2),
    ("DB-3020409", "Xã Huổi Lếch", "Huyện Mường Nhé", 3599, 22.1710, 102.7075, 106.4),
    ("DB-3020410", "Xã Quảng Lâm", "Huyện Mường Nhé", 2137, 22.0296, 102.6316, 100.4),
    ("DB-3020411", "Xã Mường Toong", "Huyện Mường Nhé", 3576, 22.1801, 102.5859, 124.7),
    ("DB-3020416", "Xã Nậm Kè", "Huyện Mường Nhé", 2861, 22.0785, 102.5466, 156.0),
    ("DB-3020418", "Xã Nậm Vì", "Huyện Mường Nhé", 1951, 22.2203, 102.5198, 49.9),
    ("DB-3020419", "Xã Pá Mỳ", "Huyện Mường Nhé", 2225, 22.0876, 102.6787, 68.7),
    ("DB-3020420", "Xã Sen Thượng", "Huyện Mường Nhé", 1987, 22.4481, 102.3261, 174.1),
    ("DB-3020421", "Xã Leng Su Sìn", "Huyện Mường Nhé", 2011, 22.3204, 102.3210, 179.6),
    ("DB-3021101", "Thị trấn Mường Chà", "Huyện Mường Chà", 2017, 21.7591, 103.0848, 22.3),
    ("DB-3021111", "Xã Mường Tùng", "Huyện Mường Chà", 3100, 21.9768, 103.0628, 171.4),
    ("DB-3021113", "Xã Huổi Lèng", "Huyện Mường Chà", 2069, 21.8967, 103.1110, 108.1),
    ("DB-3021114", "Xã Xá Lông", "Huyện Mường Chà", 2374, 21.8202, 103.1170, 85.5),
    ("DB-3021122", "Xã Ma Thì Hồ", "Huyện Mường Chà", 3087, 21.8040, 103.0237, 135.2),
    ("DB-3021123", "Xã Hừa Ngài", "Huyện Mường Chà", 3769, 21.8575, 103.1959, 125.7),
    ("DB-3021125", "Xã Pa Ham", "Huyện Mường Chà", 4818, 21.9123, 103.2456, 33.4),
    ("DB-3021127", "Xã Xá Tổng", "Huyện Mường Chà", 3552, 22.0079, 103.2211, 109.8),
    ("DB-3021129", "Xã Mường Mươn", "Huyện Mường Chà", 3116, 21.6423, 103.0607, 133.1),
    ("DB-3021130", "Xã Na Sang", "Huyện Mường Chà", 3601, 21.7099, 103.0790, 118.1),
    ("DB-3021131", "Xã Nậm Nèn", "Huyện Mường Chà", None, 21.8380, 103.2795, 34.3),
    ("DB-3021132", "Xã Huổi Mí", "Huyện Mường Chà", None, 21.7742, 103.2101, 116.1),
    ("DB-3021301", "Thị trấn Tủa Chùa", "Huyện Tủa Chùa", 2539, 21.8575, 103.3363, 2.6),
    ("DB-3021303", "Xã Xín Chải", "Huyện Tủa Chùa", 3700, 22.0964, 103.3386, 89.6),
    ("DB-3021305", "Xã Huổi Só", "Huyện Tủa Chùa", 1663, 22.0719, 103.4138, 60.7),
    ("DB-3021307", "Xã Tả Sìn Thàng", "Huyện Tủa Chùa", 2882, 22.0412, 103.3547, 51.1),
    ("DB-3021309", "Xã Lao Xả Phình", "Huyện Tủa Chùa", 1762, 22.0013, 103.2940, 50.3),
    ("DB-3021311", "Xã Tả Phìn", "Huyện Tủa Chùa", 2795, 21.9845, 103.3654, 50.8),
    ("DB-3021313", "Xã Tủa Thàng", "Huyện Tủa Chùa", 3659, 21.9597, 103.4395, 88.4),
    ("DB-3021315", "Xã Trung Thu", "Huyện Tủa Chùa", 2437, 21.9350, 103.2982, 53.2),
    ("DB-3021317", "Xã Sính Phình", "Huyện Tủa Chùa", 4600, 21.9080, 103.3517, 68.8),
    ("DB-3021319", "Xã Mường Báng", "Huyện Tủa Chùa", 6774, 21.8338, 103.3416, 68.8),
    ("DB-3021321", "Xã Sáng Nhè", "Huyện Tủa Chùa", 4401, 21.8726, 103.4210, 61.2),
    ("DB-3021323", "Xã Mường Đun", "Huyện Tủa Chùa", 2531, 21.8849, 103.4729, 37.8),
    ("DB-3021501", "Thị trấn Tuần Giáo", "Huyện Tuần Giáo", 7919, 21.5909, 103.4049, 16.8),
    ("DB-3021505", "Xã Mường Mùn", "Huyện Tuần Giáo", 5533, 21.7290, 103.3317, 87.7),
    ("DB-3021507", "Xã Mùn Chung", "Huyện Tuần Giáo", 4608, 21.7324, 103.3837, 35.5),
    ("DB-3021509", "Xã Phình Sáng", "Huyện Tuần Giáo", 6343, 21.8081, 103.4859, 91.5),
    ("DB-3021511", "Xã Ta Ma", "Huyện Tuần Giáo", 2874, 21.7169, 103.5356, 107.6),
    ("DB-3021513", "Xã Pú Nhung", "Huyện Tuần Giáo", 2884, 21.7025, 103.4562, 64.3),
    ("DB-3021515", "Xã Quài Nưa", "Huyện Tuần Giáo", 4840, 21.6541, 103.4494, 53.3),
    ("DB-3021517", "Xã Tỏa Tình", "Huyện Tuần Giáo", 1573, 21.6048, 103.5128, 63.9),
    ("DB-3021519", "Xã Quài Tở", "Huyện Tuần Giáo", 7119, 21.5519, 103.4573, 60.3),
    ("DB-3021521", "Xã Quài Cang", "Huyện Tuần Giáo", 6154, 21.6185, 103.4293, 39.0),
    ("DB-3021523", "Xã Tênh Phông", "Huyện Tuần Giáo", 953, 21.4918, 103.4254, 57.4),
    ("DB-3021525", "Xã Chiềng Sinh", "Huyện Tuần Giáo", 8403, 21.5499, 103.3716, 28.6),
    ("DB-3021529", "Xã Nà Sáy", "Huyện Tuần Giáo", 4059, 21.5797, 103.3526, 19.0),
    ("DB-3021531", "Xã Mường Thín", "Huyện Tuần Giáo", 1749, 21.6439, 103.3589, 60.6),
    ("DB-3021533", "Xã Mường Khong", "Huyện Tuần Giáo", None, 21.6356, 103.2572, 119.5),
    ("DB-3021535", "Xã Chiềng Đông", "Huyện Tuần Giáo", 6225, 21.5000, 103.3758, 27.7),
    ("DB-3021537", "Xã Rạng Đông", "Huyện Tuần Giáo", None, 21.7608, 103.4430, 35.3),
    ("DB-3021539", "Xã Nà Tòng", "Huyện Tuần Giáo", None, 21.7953, 103.3981, 44.7),
    ("DB-3021541", "Xã Pú Xi", "Huyện Tuần Giáo", None, 21.7134, 103.2432, 123.9),
    ("DB-3021603", "Thị trấn Mường Ảng", "Huyện Mường Ảng", 3575, 21.5216, 103.2179, 6.4),
    ("DB-3021627", "Xã Búng Lao", "Huyện Mường Ảng", 4512, 21.5254, 103.3141, 47.6),
    ("DB-3021628", "Xã Xuân Lao", "Huyện Mường Ảng", 4079, 21.4552, 103.3604, 59.4),
    ("DB-3021633", "Xã Mường Lạn", "Huyện Mường Ảng", 3457, 21.4432, 103.2921, 40.7),
    ("DB-3021634", "Xã Nặm Lịch", "Huyện Mường Ảng", 2307, 21.4649, 103.2626, 36.0),
    ("DB-3021635", "Xã Ẳng Tở", "Huyện Mường Ảng", 4039, 21.5624, 103.2630, 60.2),
    ("DB-3021637", "Xã Ẳng Cang", "Huyện Mường Ảng", 5745, 21.4793, 103.2234, 53.9),
    ("DB-3021639", "Xã Ẳng Nưa", "Huyện Mường Ảng", 2869, 21.5145, 103.1939, 24.7),
    ("DB-3021641", "Xã Mường Đăng", "Huyện Mường Ảng", 3115, 21.5800, 103.1559, 65.9),
    ("DB-3021642", "Xã Ngối Cáy", "Huyện Mường Ảng", 2585, 21.5955, 103.2154, 48.3),
    ("DB-3021703", "Xã Mường Pồn", "Huyện Điện Biên", 3337, 21.5405, 103.0016, 126.4),
    ("DB-3021705", "Xã Nà Tấu", "Huyện Điện Biên", 5017, 21.5468, 103.1174, 71.6),
    ("DB-3021706", "Xã Nà Nhạn", "Huyện Điện Biên", 3797, 21.4997, 103.0779, 79.4),
    ("DB-3021707", "Xã Thanh Nưa", "Huyện Điện Biên", 5301, 21.4339, 102.9928, 26.6),
    ("DB-3021709", "Xã Mường Phăng", "Huyện Điện Biên", 7265, 21.4503, 103.1568, 40.4),
    ("DB-3021711", "Xã Thanh Luông", "Huyện Điện Biên", 5697, 21.4089, 102.9538, 36.5),
    ("DB-3021713", "Xã Thanh Hưng", "Huyện Điện Biên", 5256, 21.3810, 102.9570, 19.7),
    ("DB-3021715", "Xã Thanh Xương", "Huyện Điện Biên", 6504, 21.3565, 103.0356, 18.9),
    ("DB-3021717", "Xã Thanh Chăn", "Huyện Điện Biên", 4306, 21.3648, 102.9527, 22.3),
    ("DB-3021719", "Xã Thanh An", "Huyện Điện Biên", 5936, 21.3326, 103.0417, 20.4),
    ("DB-3021721", "Xã Thanh Yên", "Huyện Điện Biên", 6827, 21.3367, 102.9764, 19.6),
    ("DB-3021723", "Xã Noọng Hẹt", "Huyện Điện Biên", 7311, 21.3108, 103.0351, 12.8),
    ("DB-3021725", "Xã Pa Thơm", "Huyện Điện Biên", 884, 21.3011, 102.8953, 88.1),
    ("DB-3021727", "Xã Noong Luống", "Huyện Điện Biên", 4991, 21.3005, 102.9775, 21.6),
    ("DB-3021729", "Xã Sam Mứn", "Huyện Điện Biên", 9271, 21.2878, 103.0469, 16.2),
    ("DB-3021731", "Xã Núa Ngam", "Huyện Điện Biên", 4749, 21.2545, 103.0815, 50.1),
    ("DB-3021733", "Xã Na Ư", "Huyện Điện Biên", 1120, 21.2032, 102.9425, 115.0),
    ("DB-3021735", "Xã Mường Nhà", "Huyện Điện Biên", 5751, 21.1493, 103.1029, 113.9),
    ("DB-3021737", "Xã Pu Luông", "Huyện Điện Biên", 3025, 20.9826, 103.1292, 158.7),
    ("DB-3021739", "Xã Pá Khoang", "Huyện Điện Biên", None, 21.4312, 103.1039, 50.5),
    ("DB-3021741", "Xã Hua Thanh", "Huyện Điện Biên", None, 21.4658, 102.9547, 72.8),
    ("DB-3021743", "Xã Mường Lói", "Huyện Điện Biên", 3025, 20.9683, 103.2345, 170.8),
    ("DB-3021745", "Xã Pom Lót", "Huyện Điện Biên", None, 21.2634, 102.9887, 50.0),
    ("DB-3021747", "Xã Hẹ Muông", "Huyện Điện Biên", None, 21.1989, 103.0195, 72.2),
    ("DB-3021749", "Xã Na Tông", "Huyện Điện Biên", None, 21.0866, 103.0543, 162.5),
    ("DB-3021901", "Xã Pú Nhi", "Huyện Điện Biên Đông", 3597, 21.3771, 103.1562, 107.7),
    ("DB-3021902", "Xã Nong U", "Huyện Điện Biên Đông", 2478, 21.3094, 103.1272, 72.3),
    ("DB-3021903", "Xã Na Son", "Huyện Điện Biên Đông", 2954, 21.3490, 103.2233, 71.6),
    (
        "DB-3021904",
        "Thị trấn Điện Biên Đông",
        "Huyện Điện Biên Đông",
        2986,
        21.2951,
        103.2284,
        20.4,
    ),
    ("DB-3021905", "Xã Xa Dung", "Huyện Điện Biên Đông", 4272, 21.3762, 103.3098, 90.2),
    ("DB-3021907", "Xã Phì Nhừ", "Huyện Điện Biên Đông", 4921, 21.2836, 103.2916, 125.0),
    ("DB-3021909", "Xã Keo Lôm", "Huyện Điện Biên Đông", 4446, 21.2308, 103.1693, 139.5),
    ("DB-3021911", "Xã Phình Giàng", "Huyện Điện Biên Đông", 2940, 21.1531, 103.2166, 132.6),
    ("DB-3021912", "Xã Pú Hồng", "Huyện Điện Biên Đông", 3443, 21.0728, 103.2296, 93.7),
    ("DB-3021913", "Xã Chiềng Sơ", "Huyện Điện Biên Đông", 3519, 21.2895, 103.3978, 62.3),
    ("DB-3021915", "Xã Mường Luân", "Huyện Điện Biên Đông", 3275, 21.2444, 103.3504, 61.3),
    ("DB-3021917", "Xã Luân Giới", "Huyện Điện Biên Đông", 3962, 21.1995, 103.3983, 64.0),
    ("DB-3021919", "Xã Háng Lìa", "Huyện Điện Biên Đông", 2336, 21.1732, 103.3162, 62.8),
    ("DB-3021920", "Xã Tìa Dình", "Huyện Điện Biên Đông", 2468, 21.1112, 103.3550, 103.5),
)
