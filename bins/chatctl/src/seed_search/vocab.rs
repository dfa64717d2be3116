//! The words `seed-search` writes messages with: everyday Vietnamese chat vocabulary, most
//! frequent first (the text generator draws from it with a Zipf-like weight by rank), and
//! the lists it mixes in: people's names, places, food, work, stock lines, emoji and a few
//! rare words.
//!
//! Frequencies are not measured from a corpus; the order follows how often the words come
//! up in everyday chat (function words and pronouns first, then common verbs, time words,
//! adjectives, nouns). What matters for the benchmark is the shape: a handful of words in a
//! large share of the messages ("không", "anh", "em", "được") and a long tail.

/// Everyday words and short compounds, most frequent first.
#[rustfmt::skip]
pub const COMMON: &[&str] = &[
    "không", "anh", "em", "là", "có", "được", "thì", "đi", "mà", "rồi", "này", "cái", "nhé", "ạ", "ơi", "gì", "với",
    "cho", "mình", "đã", "làm", "nha", "vậy", "chị", "đó", "lại", "ok", "bạn", "nữa", "còn", "thế", "sao", "biết",
    "đang", "cũng", "về", "ở", "của", "và", "người", "nói", "muốn", "ăn", "hôm nay", "mai", "giờ", "đâu", "nào",
    "phải", "xem", "nhiều", "lắm", "quá", "hả", "hơn", "chưa", "luôn", "vẫn", "đến", "ra", "vào", "như", "nếu",
    "khi", "để", "nên", "thấy", "bảo", "hỏi", "gửi", "nhắn", "gọi", "à", "ừ", "vâng", "dạ", "thôi", "xong", "chờ",
    "đợi", "tí", "chút", "nhỉ", "chứ", "đấy", "hết", "mới", "cần", "thích", "nhớ", "quên", "hiểu", "chắc", "thật",
    "ai", "mấy", "bao giờ", "bao nhiêu", "tại sao", "vì", "nhưng", "hay", "hoặc", "rất", "hơi", "cực", "tối",
    "sáng", "chiều", "trưa", "đêm", "tuần", "tháng", "năm", "ngày", "hôm qua", "bây giờ", "sớm", "muộn", "nhanh",
    "chậm", "đẹp", "vui", "buồn", "mệt", "ngủ", "dậy", "uống", "nước", "chơi", "học", "nhà", "xe", "đường", "tiền",
    "việc", "điện thoại", "tin nhắn", "công ty", "mọi người", "cảm ơn", "xin lỗi", "haha", "hihi", "hehe", "ok em",
    "được rồi", "có thể", "không sao", "thực ra", "tất cả", "hình như", "có lẽ", "đúng", "sai", "tốt", "xấu", "to",
    "nhỏ", "dài", "ngắn", "mua", "bán", "giá", "rẻ", "đắt", "ship", "giao", "hàng", "đơn", "lấy", "đưa", "cầm",
    "mang", "để ý", "lo", "sợ", "thương", "yêu", "ghét", "giận", "cười", "khóc", "chạy", "ngồi", "đứng", "nằm",
    "mở", "đóng", "bật", "tắt", "sạc", "pin", "mạng", "wifi", "ảnh", "video", "link", "nhóm", "họp", "lớp",
    "trường", "thi", "điểm", "bài", "tập", "sách", "đọc", "viết", "nghe", "nhạc", "phim", "xem phim", "cà phê",
    "trà sữa", "bia", "nhậu", "đá bóng", "cầu lông", "bơi", "chạy bộ", "gym", "đau", "ốm", "sốt", "bệnh viện",
    "thuốc", "khám", "bác sĩ", "mẹ", "bố", "ông", "bà", "con", "cháu", "vợ", "chồng", "người yêu", "bạn bè",
    "hàng xóm", "đồng nghiệp", "sếp", "khách", "trời", "mưa", "nắng", "lạnh", "nóng", "gió", "bão", "tắc đường",
    "kẹt xe", "xăng", "grab", "taxi", "xe máy", "ô tô", "bến xe", "sân bay", "vé", "máy bay", "tàu", "khách sạn",
    "phòng", "đặt", "hủy", "đổi", "trả", "nợ", "vay", "chuyển khoản", "tài khoản", "ngân hàng", "thẻ", "tiền mặt",
    "lương", "thưởng", "tết", "sinh nhật", "quà", "tiệc", "cưới", "đám cưới", "nghỉ", "lễ", "du lịch", "về quê",
    "quê", "thành phố", "chợ", "siêu thị", "cửa hàng", "quán", "nhà hàng", "đồ ăn", "cơm", "bún", "mì", "rau",
    "thịt", "cá", "gà", "trứng", "hoa quả", "bánh", "kẹo", "sữa", "nấu", "rửa", "dọn", "giặt", "quần áo", "giày",
    "túi", "điện", "nước nóng", "sửa", "hỏng", "mất", "tìm", "thấy rồi", "được không", "thế nào", "làm sao",
    "ở đâu", "lúc nào", "hôm nào", "tuần sau", "tháng sau", "năm sau", "cuối tuần", "thứ hai", "thứ ba", "thứ tư",
    "thứ năm", "thứ sáu", "thứ bảy", "chủ nhật", "sáng mai", "tối nay", "chiều nay", "trưa nay", "lúc nãy",
    "vừa xong", "sắp", "xíu", "liền", "ngay", "luôn nhé", "nhé anh", "nhé em", "ạ anh", "ạ chị", "oke", "okela",
    "uh", "ừm", "hmm", "trời ơi", "ôi", "chết", "thôi chết", "may quá", "tiếc quá", "đỉnh", "xịn", "ngon", "dở",
    "chán", "hay quá", "đẹp quá", "giỏi", "chăm", "lười", "bận", "rảnh", "hẹn", "gặp", "đón", "đưa đón", "qua",
    "ghé", "tạt qua", "về muộn", "đi làm", "tan làm", "tăng ca", "nghỉ phép", "xin nghỉ", "báo", "báo cáo",
    "kế hoạch", "dự án", "khách hàng", "hợp đồng", "email", "file", "tài liệu", "gửi lại", "check", "kiểm tra",
    "xác nhận", "duyệt", "ký", "in", "scan", "nộp", "hạn", "deadline", "gấp", "quan trọng", "nhớ nhé", "đừng quên",
    "cẩn thận", "an toàn", "về đến nhà", "nguy hiểm", "nguy cơ", "ngủ ngon", "chúc", "mừng", "chúc mừng", "may mắn",
    "sức khỏe", "hạnh phúc",
];

/// Family names, with their share among Vietnamese people (roughly, in percent): names are
/// drawn by this weight, so "Nguyễn" dominates as it does in life.
pub const FAMILY_NAMES: &[(&str, u32)] = &[
    ("Nguyễn", 38),
    ("Trần", 11),
    ("Lê", 9),
    ("Phạm", 7),
    ("Hoàng", 5),
    ("Huỳnh", 4),
    ("Phan", 4),
    ("Vũ", 4),
    ("Võ", 3),
    ("Đặng", 2),
    ("Bùi", 2),
    ("Đỗ", 2),
    ("Hồ", 1),
    ("Ngô", 1),
    ("Dương", 1),
    ("Lý", 1),
];

/// Middle names.
#[rustfmt::skip]
pub const MIDDLE_NAMES: &[&str] = &[
    "Văn", "Thị", "Đức", "Minh", "Hữu", "Quang", "Thanh", "Ngọc", "Thu", "Hoàng", "Xuân", "Anh", "Công", "Bảo",
    "Gia", "Khánh", "Mạnh", "Phương", "Tuấn", "Kim",
];

/// Given names (also what people call each other in chat: "anh Đức", "chị Hương").
#[rustfmt::skip]
pub const GIVEN_NAMES: &[&str] = &[
    "Anh", "Hương", "Linh", "Hùng", "Dũng", "Tuấn", "Hà", "Lan", "Mai", "Nam", "Đức", "Trang", "Huyền", "Phương",
    "Thảo", "Long", "Quân", "Hải", "Bình", "Cường", "Minh", "Hoa", "Hằng", "Ngọc", "Yến", "Vy", "Khoa", "Thắng",
    "Sơn", "Việt", "Tâm", "Nhung", "Hạnh", "Giang", "Thủy", "Trung", "Duy", "Phúc", "Khánh", "Hiếu", "Tú", "Trâm",
    "Nhi", "Châu", "Dung", "Hiền", "Kiên", "Lâm", "Oanh", "Quỳnh",
];

/// How people address each other before a given name.
pub const ADDRESS_TERMS: &[&str] = &["anh", "chị", "em", "cô", "chú", "bác", "bạn", "sếp", "thầy", "cậu"];

/// Places: cities, districts, landmarks.
#[rustfmt::skip]
pub const PLACES: &[&str] = &[
    "Hà Nội", "Sài Gòn", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Huế", "Nha Trang", "Đà Lạt", "Vũng Tàu", "Hạ Long",
    "Sa Pa", "Phú Quốc", "Quy Nhơn", "Hội An", "Ninh Bình", "Bắc Ninh", "Thái Nguyên", "Biên Hòa", "Bình Dương",
    "Quận 1", "Quận 7", "Cầu Giấy", "Hoàn Kiếm", "Đống Đa", "Ba Đình", "Tây Hồ", "Thanh Xuân", "Hai Bà Trưng",
    "Bình Thạnh", "Gò Vấp", "Thủ Đức", "Tân Bình", "Phú Nhuận", "Long Biên", "Mỹ Đình", "Hồ Gươm", "Nội Bài",
    "Tân Sơn Nhất", "chợ Bến Thành", "phố cổ", "Hồ Tây", "Lăng Bác",
];

/// Food and drink.
#[rustfmt::skip]
pub const FOOD: &[&str] = &[
    "phở", "phở bò", "phở gà", "bún chả", "bún bò Huế", "bún riêu", "bún đậu mắm tôm", "bánh mì", "cơm tấm",
    "cơm rang", "cơm gà", "xôi", "bánh cuốn", "bánh xèo", "gỏi cuốn", "nem rán", "chả giò", "lẩu", "lẩu thái",
    "đồ nướng", "hải sản", "ốc", "cháo", "miến", "mì quảng", "cao lầu", "hủ tiếu", "bánh canh", "chè",
    "cà phê sữa đá", "bạc xỉu", "trà đá", "nước mía", "sinh tố", "bia hơi", "kem", "bánh bao", "pizza", "gà rán",
    "trà chanh",
];

/// Work words, many borrowed from English as Vietnamese offices use them.
#[rustfmt::skip]
pub const WORK: &[&str] = &[
    "cuộc họp", "báo cáo tuần", "dự án mới", "khách hàng", "hợp đồng", "ngân sách", "hóa đơn", "thanh toán",
    "phòng kế toán", "nhân sự", "phỏng vấn", "tuyển dụng", "công tác", "đối tác", "báo giá", "sản phẩm",
    "doanh thu", "KPI", "OT", "meeting", "zoom", "google meet", "excel", "slide", "laptop", "máy in", "server",
    "bug", "deploy", "test", "review", "code", "release", "sprint",
];

/// Whole lines people send as they are.
#[rustfmt::skip]
pub const STOCK_LINES: &[&str] = &[
    "ok", "oke", "ok em", "ok anh", "vâng ạ", "dạ vâng", "dạ", "ừ", "uh", "cảm ơn anh", "cảm ơn chị nhiều",
    "cảm ơn bạn nhé", "không sao đâu", "khong co gi", "để em xem", "để anh xem đã", "đợi tí", "chờ xíu nhé",
    "đang bận, tí gọi lại nhé", "đến nơi chưa?", "về chưa?", "ăn cơm chưa?", "ngủ ngon nhé", "chúc mừng sinh nhật!",
    "haha", "hihi", "thôi được rồi", "mai gặp nhé", "tối nay đi ăn không?", "alo", "nghe máy đi",
    "gọi lại cho anh nhé", "em đến rồi", "anh ra đi", "đang trên đường", "tắc đường quá", "mưa to quá",
    "nhớ mang áo mưa", "đã chuyển khoản rồi nhé", "nhận được rồi ạ", "gửi file cho em với", "xem giúp mình cái này",
    "duyệt giúp em với ạ", "ai đi không?", "cho mình 1 suất",
];

/// Emoji as people add them.
pub const EMOJI: &[&str] = &["😂", "👍", "❤️", "🙏", "😅", "😭", "🥰", "😍", "🎉", "🤣", "😁", "👌", "🔥", "😢", "🤔"];

/// Words that come up rarely (one message in tens of thousands): the rare query is one of
/// them, chosen by how often it occurs in the benchmark user's conversations.
#[rustfmt::skip]
pub const RARE: &[&str] = &[
    "kính thiên văn", "khủng long", "đàn bầu", "tò he", "thạch anh", "hổ phách", "cồng chiêng", "kỳ nhông",
    "dế mèn", "đom đóm", "bồ nông", "tê giác", "lạc đà", "cá heo", "hải quỳ", "sao biển", "chuồn chuồn", "xích lô",
    "múa rối nước", "ốc mượn hồn",
];

/// What every message may end with.
pub const ENDINGS: &[&str] = &["?", "!", ".", "...", "??", "!!"];

/// Group titles (a number is added so they differ).
#[rustfmt::skip]
pub const GROUP_TITLES: &[&str] = &[
    "Gia đình", "Lớp 12A1", "Hội bạn thân", "Phòng kế toán", "Team dự án", "Đá bóng thứ 7", "Hàng xóm chung cư",
    "Cựu sinh viên", "Nhóm du lịch", "Phòng kỹ thuật", "Hội chạy bộ", "Họ hàng",
];
