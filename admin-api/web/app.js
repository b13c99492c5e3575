// gatewatch web UI: login, live alerts (SSE), visitor log with CSV export,
// visitor registration from a CCCD QR code. Vietnamese by default.
"use strict";

const T = {
  vi: {
    people: "Người đăng ký", devices: "Thiết bị",
    title: "Kiểm soát ra vào", login: "Đăng nhập", username: "Tên đăng nhập", password: "Mật khẩu", sign_in: "Đăng nhập",
    live_alerts: "Cảnh báo trực tiếp", visitor_log: "Nhật ký ra vào", register_visitor: "Đăng ký khách",
    logout: "Đăng xuất", from: "Từ ngày", to: "Đến ngày", site: "Địa điểm", gate: "Cổng", direction: "Hướng",
    entry: "Vào", exit: "Ra", person: "Người (mã, tên, CCCD)", known: "Đã đăng ký", known_yes: "Có", known_no: "Không",
    anomaly: "Bất thường", filter: "Lọc", export_csv: "Xuất CSV", time: "Thời gian", similarity: "Độ giống",
    face: "Khuôn mặt", qr_text: "Nội dung mã QR trên CCCD", read_qr: "Đọc mã QR", name: "Họ và tên",
    birth_date: "Ngày sinh", host: "Người được gặp", valid_until: "Hiệu lực đến", photo: "Ảnh khuôn mặt",
    consent: "Khách đồng ý cho xử lý dữ liệu khuôn mặt để kiểm soát ra vào trong thời gian hiệu lực",
    register: "Đăng ký", registered: "Đã đăng ký", ack: "Xác nhận", acked_by: "Đã xác nhận bởi", note: "Ghi chú xử lý:",
    connected: "Đang nhận cảnh báo trực tiếp", reconnecting: "Mất kết nối — đang kết nối lại…", rows: "dòng",
    unknown: "Người lạ", bad_login: "Sai tên đăng nhập hoặc mật khẩu", page: "Trang",
    statistics: "Thống kê ANTT", period: "Khoảng thời gian", last_day: "24 giờ qua", last_week: "7 ngày qua",
    last_month: "30 ngày qua", show: "Xem", entries_exits: "Lượt vào / ra", by_hour: "Lượt vào theo giờ trong ngày",
    anomalies_by_type: "Bất thường theo loại", reports: "Báo cáo định kỳ", report_kind: "Loại báo cáo",
    weekly: "Tuần (thứ Hai hằng tuần)", monthly: "Tháng (trước ngày 16)", report_date: "Ngày lập báo cáo",
    download_csv: "Tải CSV", printable: "Bản in", occupancy: "Đang ở trong", unique_people: "Số người (đã đăng ký)",
    passages: "Lượt qua cổng", unknown_share: "Tỷ lệ người lạ", peak: "Giờ cao điểm", date: "Ngày", print: "In",
    weekly_title: "Báo cáo tuần", monthly_title: "Báo cáo tháng", not_person: "Không phải người này",
    administration: "Quản trị", users: "Tài khoản", role: "Vai trò", sites_hint: "Địa điểm (cách nhau bởi dấu phẩy)",
    create_user: "Tạo tài khoản", retention: "Thời hạn lưu trữ (ngày)", save: "Lưu", audit_log: "Nhật ký truy cập",
    actor: "Người thực hiện", action: "Hành động", target: "Đối tượng", detail: "Chi tiết", saved: "Đã lưu",
    bulk_import: "Nhập hàng loạt", bulk_import_hint: "Tệp CSV với các cột dưới đây (tên cột giữ nguyên tiếng Anh) và tệp ZIP ảnh đặt tên theo mã hoặc số CCCD:",
    import: "Nhập", import_ok: "đã đăng ký", import_failed: "bị từ chối",
    // Anomaly kinds (pipeline::events::AnomalyKind, snake_case) and the sentence
    // an alert card shows for each: {who} {dir} {camera} {site} {agent} {kind}.
    kind_watchlist: "Người trong danh sách theo dõi", kind_unknown_person: "Người lạ tại cổng hạn chế",
    kind_after_hours: "Vào ngoài giờ quy định", kind_tailgating: "Đi kèm, bám đuôi qua cổng", kind_loitering: "Lảng vảng trước camera",
    kind_anti_passback: "Vào lại khi chưa ra", kind_over_capacity: "Vượt quá sức chứa", kind_camera_offline: "Camera mất tín hiệu",
    kind_camera_tampered: "Camera bị che hoặc xoay lệch", kind_outbox_full: "Thiết bị biên không ghi được sự kiện",
    kind_verification_failed: "Xác minh khuôn mặt không khớp", kind_event_refused: "Máy chủ từ chối sự kiện",
    kind_edge_offline: "Thiết bị biên mất kết nối", kind_edge_online: "Thiết bị biên đã kết nối lại",
    alert_watchlist: "{who} thuộc danh sách theo dõi, {dir} cổng {camera} ({site}).",
    alert_unknown_person: "Một người lạ {dir} cổng hạn chế {camera} ({site}).",
    alert_after_hours: "{who} vào tại cổng {camera} ({site}) ngoài giờ mở cửa.",
    alert_tailgating: "Nhiều người vào liền nhau tại cổng {camera} ({site}) nhưng không đủ người được phép.",
    alert_loitering: "Có người ở lâu trước camera {camera} ({site}) mà không đi qua cổng.",
    alert_anti_passback: "{who} vào lại tại cổng {camera} ({site}) khi chưa ghi nhận lượt ra.",
    alert_over_capacity: "Số người đang ở trong {site} vượt quá sức chứa cho phép (cổng {camera}).",
    alert_camera_offline: "Camera {camera} ({site}) mất tín hiệu hoặc không mở được.",
    alert_camera_tampered: "Camera {camera} ({site}) có dấu hiệu bị che, xoay lệch hoặc mất nét.",
    alert_outbox_full: "Thiết bị biên {agent} ({site}) không ghi được sự kiện ra đĩa; sự kiện đang được giữ tạm trong bộ nhớ.",
    alert_verification_failed: "Người qua cổng {camera} ({site}) không khớp với người được chờ: {who}.",
    alert_verification_failed_anon: "Không xác minh được khuôn mặt người qua cổng {camera} ({site}).",
    alert_event_refused: "Máy chủ đã từ chối sự kiện từ thiết bị biên {agent} ({site}); sự kiện được giữ lại trên thiết bị để gửi lại sau khi khắc phục.",
    alert_edge_offline: "Thiết bị biên {agent} ({site}) mất kết nối.",
    alert_edge_online: "Thiết bị biên {agent} ({site}) đã kết nối lại.",
    alert_other: "Bất thường “{kind}” tại {site}.",
    dir_entry: "đi vào qua", dir_exit: "đi ra qua", dir_any: "đi qua", dir_near: "đang đến",
    prio_urgent: "Khẩn cấp", prio_high: "Cao", prio_normal: "Thường",
    alt_crop: "Khuôn mặt chụp tại cổng", alt_enrolled: "Ảnh đã đăng ký",
    role_guard: "Bảo vệ", role_admin: "Quản trị viên", role_superadmin: "Quản trị hệ thống",
    cat_staff: "Cán bộ, nhân viên", cat_resident: "Cư dân", cat_visitor: "Khách", cat_watchlist: "Danh sách theo dõi",
    // Retention classes (admin-api/src/retention.rs CLASSES).
    ret_unknown_face_crops: "Ảnh khuôn mặt người lạ", ret_known_face_crops: "Ảnh khuôn mặt người đã đăng ký (chụp tại cổng)",
    ret_passages: "Lượt ra vào và bất thường", ret_expired_visitors: "Khách đã hết hạn đăng ký",
    ret_audit: "Nhật ký truy cập (ít nhất 1095 ngày)",
    // Audit actions (every `audit::record(…, action, …)`).
    act_login: "Đăng nhập", act_login_failed: "Đăng nhập thất bại", act_logout: "Đăng xuất",
    act_user_created: "Tạo tài khoản", act_user_disabled: "Khóa tài khoản", act_user_enabled: "Mở khóa tài khoản",
    act_sessions_ended: "Kết thúc các phiên đăng nhập", act_password_reset: "Đặt lại mật khẩu", act_password_changed: "Đổi mật khẩu",
    act_password_change_refused: "Đổi mật khẩu bị từ chối", act_agent_revoked: "Thu hồi thiết bị biên",
    act_acknowledgement: "Xác nhận cảnh báo", act_cccd_viewed: "Xem số CCCD", act_export: "Xuất dữ liệu (CSV)",
    act_enrolment: "Đăng ký người", act_deletion: "Xóa dữ liệu cá nhân", act_face_viewed: "Xem ảnh khuôn mặt",
    act_correction: "Sửa nhận dạng sai", act_bulk_import: "Nhập hàng loạt", act_retention_changed: "Đổi thời hạn lưu trữ",
    act_audit_viewed: "Xem nhật ký truy cập", act_audit_purged: "Xóa nhật ký truy cập quá hạn", act_purge: "Xóa dữ liệu quá hạn",
    act_report: "Lập báo cáo", act_expectation: "Đặt người được chờ xác minh", act_person_viewed: "Xem hồ sơ người",
    act_person_edited: "Sửa hồ sơ người", act_photos_added: "Thêm ảnh khuôn mặt", act_consent_withdrawn: "Rút lại sự đồng ý",
    act_subject_export: "Xuất dữ liệu cho chủ thể dữ liệu", act_camera_config_changed: "Đổi cấu hình camera",
    act_snapshot_viewed: "Xem ảnh chụp từ camera", act_snapshot_requested: "Yêu cầu ảnh chụp từ camera",
    act_edge_offline: "Thiết bị biên mất kết nối", act_edge_online: "Thiết bị biên đã kết nối lại",
    actor_cli: "Dòng lệnh máy chủ (cli)", actor_retention: "Tự động xóa theo thời hạn",
    at_photo: "ảnh đăng ký của {p}", at_crop: "ảnh chụp tại cổng {p}", at_log: "nhật ký ra vào", at_log_csv: "tệp CSV nhật ký ra vào",
    at_people: "danh sách người",
    ad_photos: "{n} ảnh", ad_deleted: "hồ sơ, ảnh và đặc trưng khuôn mặt", ad_sessions_ended: "đã kết thúc các phiên đăng nhập",
    ad_other_sessions_ended: "đã kết thúc các phiên khác", ad_page: "trang {n}", ad_export: "{n} dòng; bộ lọc {f}",
    ad_import: "{ok} đã đăng ký, {failed} bị từ chối", ad_not: "không phải {p}", ad_chain: "chuỗi nhật ký bắt đầu sau dòng này",
    ad_cccd_log: "{n} số CCCD ở trang {p}; bộ lọc {f}", ad_cccd_people: "{n} người, {c} số CCCD; tìm kiếm {q}", ad_cleared: "đã bỏ",
    days_n: "{n} ngày", period_short: "{start} – {end}",
    // Pages, tables, errors.
    no_data: "Chưa có dữ liệu", total: "Tổng cộng", all_sites: "Tất cả địa điểm", cccd: "CCCD", record_id: "Mã (ID)",
    csv_file: "Tệp CSV", zip_file: "Tệp ZIP ảnh", qr_placeholder: "CCCD|CMND|Họ tên|DDMMYYYY|Giới tính|Địa chỉ|DDMMYYYY",
    period_text: "Từ ngày {start} đến hết ngày {end} (múi giờ {zone})", report: "Báo cáo",
    forbidden_title: "Trang này không dành cho tài khoản của bạn",
    forbidden_role: "Trang này dành cho {roles}. Tài khoản của bạn có vai trò {role}.",
    forbidden_data: "Tài khoản của bạn không có quyền xem nội dung này (ví dụ: địa điểm chưa được giao cho bạn).",
    go_to: "Đi tới trang {page}", and: " và ", reload: "Tải lại trang",
    load_failed: "Không tải được dữ liệu của trang.",
    err_network: "Không kết nối được với máy chủ; kiểm tra mạng rồi thử lại.",
    err_400: "Thông tin chưa hợp lệ; kiểm tra lại rồi thử lại.", err_403: "Tài khoản của bạn không có quyền thực hiện việc này.",
    err_404: "Không tìm thấy.", err_409: "Đã có hoặc đã được xử lý trước đó.", err_413: "Tệp tải lên quá lớn.",
    err_422: "Không xử lý được dữ liệu gửi lên (ví dụ: ảnh không thấy rõ khuôn mặt).",
    err_429: "Quá nhiều yêu cầu; vui lòng thử lại sau ít phút.",
    err_503: "Máy chủ tạm thời không xử lý được; chưa có gì được lưu. Vui lòng thử lại sau.",
    err_other: "Có lỗi xảy ra (mã {status}).", err_unexpected: "Có lỗi không mong muốn trên trang; vui lòng tải lại trang.",
    login_locked: "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau {n} phút.",
    login_locked_s: "Đăng nhập sai quá nhiều lần; vui lòng thử lại sau {n} giây.",
    login_busy: "Đang có quá nhiều lượt đăng nhập cùng lúc; vui lòng thử lại sau vài giây.",
    qr_bad: "Không đọc được mã QR CCCD; kiểm tra lại nội dung rồi thử lại.",
    person_exists: "Người này đã được đăng ký (trùng mã hoặc số CCCD).",
    photo_unusable: "Ảnh không dùng được: không thấy rõ một khuôn mặt.",
    user_exists: "Tên đăng nhập đã tồn tại.",
    user_invalid: "Kiểm tra lại: tên đăng nhập 3–64 ký tự (chữ, số, . _ -), mật khẩu ít nhất 10 ký tự; bảo vệ và quản trị viên cần ít nhất một địa điểm.",
    retention_invalid: "Số ngày từ 1 đến 3650; nhật ký truy cập ít nhất 1095 ngày (3 năm).",
    already_acked: "Cảnh báo này đã được xác nhận.", import_row_refused: "Bị từ chối",
  },
  en: {
    people: "People", devices: "Devices",
    title: "Access control", login: "Sign in", username: "Username", password: "Password", sign_in: "Sign in",
    live_alerts: "Live alerts", visitor_log: "Visitor log", register_visitor: "Register a visitor",
    logout: "Sign out", from: "From", to: "To", site: "Site", gate: "Gate", direction: "Direction",
    entry: "Entry", exit: "Exit", person: "Person (id, name, CCCD)", known: "Enrolled", known_yes: "Yes", known_no: "No",
    anomaly: "Anomaly", filter: "Filter", export_csv: "Export CSV", time: "Time", similarity: "Similarity",
    face: "Face", qr_text: "Text of the CCCD card's QR code", read_qr: "Read QR code", name: "Full name",
    birth_date: "Date of birth", host: "Visiting", valid_until: "Valid until", photo: "Face photo",
    consent: "The visitor consents to face data processing for access control while the registration is valid",
    register: "Register", registered: "Registered", ack: "Acknowledge", acked_by: "Acknowledged by", note: "Note:",
    connected: "Receiving live alerts", reconnecting: "Connection lost — reconnecting…", rows: "rows",
    unknown: "Unknown person", bad_login: "Wrong username or password", page: "Page",
    statistics: "Security statistics", period: "Period", last_day: "Last 24 hours", last_week: "Last 7 days",
    last_month: "Last 30 days", show: "Show", entries_exits: "Entries / exits", by_hour: "Entries by hour of day",
    anomalies_by_type: "Anomalies by type", reports: "Periodic reports", report_kind: "Report",
    weekly: "Weekly (every Monday)", monthly: "Monthly (before the 16th)", report_date: "Report date",
    download_csv: "Download CSV", printable: "Printable", occupancy: "Inside now", unique_people: "People (enrolled)",
    passages: "Passages", unknown_share: "Share unknown", peak: "Peak hours", date: "Date", print: "Print",
    weekly_title: "Weekly report", monthly_title: "Monthly report", not_person: "Not this person",
    administration: "Administration", users: "Accounts", role: "Role", sites_hint: "Sites (comma-separated)",
    create_user: "Create account", retention: "Retention (days)", save: "Save", audit_log: "Audit log",
    actor: "Who", action: "Action", target: "Target", detail: "Detail", saved: "Saved",
    bulk_import: "Bulk import", bulk_import_hint: "A CSV file with the columns below and a ZIP of photos named by id or CCCD:",
    import: "Import", import_ok: "enrolled", import_failed: "refused",
    kind_watchlist: "Watch-listed person", kind_unknown_person: "Unknown person at a restricted gate",
    kind_after_hours: "Entry outside opening hours", kind_tailgating: "Tailgating", kind_loitering: "Loitering",
    kind_anti_passback: "Re-entry without exit", kind_over_capacity: "Over capacity", kind_camera_offline: "Camera offline",
    kind_camera_tampered: "Camera tampered", kind_outbox_full: "Edge device cannot store events",
    kind_verification_failed: "Face verification failed", kind_event_refused: "Event refused by the server",
    kind_edge_offline: "Edge device offline", kind_edge_online: "Edge device back online",
    alert_watchlist: "{who}, on the watch list, {dir} gate {camera} ({site}).",
    alert_unknown_person: "An unknown person {dir} restricted gate {camera} ({site}).",
    alert_after_hours: "{who} entered at gate {camera} ({site}) outside opening hours.",
    alert_tailgating: "Several people entered in quick succession at gate {camera} ({site}) without enough of them authorised.",
    alert_loitering: "Someone has stayed in view of camera {camera} ({site}) for a long time without passing.",
    alert_anti_passback: "{who} entered again at gate {camera} ({site}) without having left.",
    alert_over_capacity: "Occupancy at {site} is above its limit (gate {camera}).",
    alert_camera_offline: "Camera {camera} ({site}) has no signal or cannot be opened.",
    alert_camera_tampered: "Camera {camera} ({site}) seems covered, turned or out of focus.",
    alert_outbox_full: "Edge device {agent} ({site}) cannot write events to its disk; they are held in memory for now.",
    alert_verification_failed: "The person at gate {camera} ({site}) is not the expected {who}.",
    alert_verification_failed_anon: "The face at gate {camera} ({site}) could not be verified.",
    alert_event_refused: "The server refused events from edge device {agent} ({site}); they are kept on the device to be sent again once fixed.",
    alert_edge_offline: "Edge device {agent} ({site}) stopped reporting.",
    alert_edge_online: "Edge device {agent} ({site}) is reporting again.",
    alert_other: "Anomaly “{kind}” at {site}.",
    dir_entry: "entering through", dir_exit: "leaving through", dir_any: "passing through", dir_near: "approaching",
    prio_urgent: "Urgent", prio_high: "High", prio_normal: "Normal",
    alt_crop: "Face at the gate", alt_enrolled: "Enrolled photo",
    role_guard: "Guard", role_admin: "Administrator", role_superadmin: "System administrator",
    cat_staff: "Staff", cat_resident: "Resident", cat_visitor: "Visitor", cat_watchlist: "Watch list",
    ret_unknown_face_crops: "Face crops of unknown people", ret_known_face_crops: "Face crops of enrolled people",
    ret_passages: "Passages and anomalies", ret_expired_visitors: "Expired visitors",
    ret_audit: "Audit log (at least 1,095 days)",
    act_login: "Sign-in", act_login_failed: "Failed sign-in", act_logout: "Sign-out",
    act_user_created: "Account created", act_user_disabled: "Account disabled", act_user_enabled: "Account enabled",
    act_sessions_ended: "Sessions ended", act_password_reset: "Password reset", act_password_changed: "Password changed",
    act_password_change_refused: "Password change refused", act_agent_revoked: "Edge device revoked",
    act_acknowledgement: "Alert acknowledged", act_cccd_viewed: "CCCD numbers viewed", act_export: "Data exported (CSV)",
    act_enrolment: "Person enrolled", act_deletion: "Personal data deleted", act_face_viewed: "Face image viewed",
    act_correction: "Wrong match corrected", act_bulk_import: "Bulk import", act_retention_changed: "Retention changed",
    act_audit_viewed: "Audit log viewed", act_audit_purged: "Expired audit rows removed", act_purge: "Expired data removed",
    act_report: "Report produced", act_expectation: "Expected person set", act_person_viewed: "Person record viewed",
    act_person_edited: "Person record edited", act_photos_added: "Face photos added", act_consent_withdrawn: "Consent withdrawn",
    act_subject_export: "Data subject export", act_camera_config_changed: "Camera settings changed",
    act_snapshot_viewed: "Camera snapshot viewed", act_snapshot_requested: "Camera snapshot requested",
    act_edge_offline: "Edge device offline", act_edge_online: "Edge device back online",
    actor_cli: "Server command line (cli)", actor_retention: "Automatic retention purge",
    at_photo: "enrolled photo of {p}", at_crop: "gate face crop {p}", at_log: "visitor log", at_log_csv: "visitor log CSV",
    at_people: "people list",
    ad_photos: "{n} photo(s)", ad_deleted: "person, photos and embeddings", ad_sessions_ended: "sessions ended",
    ad_other_sessions_ended: "other sessions ended", ad_page: "page {n}", ad_export: "{n} rows; filter {f}",
    ad_import: "{ok} enrolled, {failed} refused", ad_not: "not {p}", ad_chain: "the chain starts after this row",
    ad_cccd_log: "{n} CCCD numbers on page {p}; filter {f}", ad_cccd_people: "{n} people, {c} CCCD numbers; search {q}", ad_cleared: "cleared",
    days_n: "{n} days", period_short: "{start} – {end}",
    no_data: "No data yet", total: "Total", all_sites: "All sites", cccd: "CCCD", record_id: "ID",
    csv_file: "CSV file", zip_file: "ZIP of photos", qr_placeholder: "CCCD|CMND|Full name|DDMMYYYY|Sex|Address|DDMMYYYY",
    period_text: "From {start} to {end} inclusive (time zone {zone})", report: "Report",
    forbidden_title: "This page is not for your account",
    forbidden_role: "This page is for {roles}. Your account's role is {role}.",
    forbidden_data: "Your account may not see this (for example, a site that is not assigned to you).",
    go_to: "Go to {page}", and: " and ", reload: "Reload the page",
    load_failed: "The page's data could not be loaded.",
    err_network: "Cannot reach the server; check the network and try again.",
    err_400: "Some information is not valid.", err_403: "Your account may not do this.",
    err_404: "Not found.", err_409: "Already exists or already done.", err_413: "The upload is too large.",
    err_422: "The data could not be processed (for example, no clear face in the photo).",
    err_429: "Too many requests; try again in a few minutes.",
    err_503: "The server cannot process this right now; nothing was stored. Try again later.",
    err_other: "Something went wrong (status {status}).", err_unexpected: "Something unexpected went wrong on the page; reload it.",
    login_locked: "Too many failed sign-ins; try again in {n} minute(s).",
    login_locked_s: "Too many failed sign-ins; try again in {n} seconds.",
    login_busy: "Too many sign-ins at once; try again in a few seconds.",
    qr_bad: "This is not a readable CCCD QR code; check it and try again.",
    person_exists: "This person is already enrolled (same id or CCCD).",
    photo_unusable: "The photo cannot be used: no single clear face.",
    user_exists: "This username already exists.",
    user_invalid: "Check: username 3–64 characters (letters, digits, . _ -), password at least 10 characters; guards and administrators need at least one site.",
    retention_invalid: "Days: 1–3650; the audit log at least 1,095 days (3 years).",
    already_acked: "This alert was already acknowledged.", import_row_refused: "Refused",
  },
};
let lang = localStorage.getItem("lang") || "vi";
// A key missing in English falls back to the Vietnamese text, then to the key.
const t = (k) => (T[lang] && T[lang][k]) || (T.vi && T.vi[k]) || k;
/// Whether the dictionary has `k` (in either language).
const hasT = (k) => [T[lang], T.vi].some((d) => d && Object.prototype.hasOwnProperty.call(d, k));
/// A template with `{name}` placeholders filled from `vars` ("—" for an empty value).
function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (_, k) => (vars[k] != null && vars[k] !== "" ? String(vars[k]) : "—"));
}
/// Fills every `[data-t]` element's text, `[data-t-placeholder]`'s placeholder and,
/// from `<body data-title>`, the window title.
function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  document.querySelectorAll("[data-t-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.tPlaceholder); });
  if (document.body && document.body.dataset.title) document.title = "gatewatch · " + t(document.body.dataset.title);
  const b = document.getElementById("lang");
  if (b) b.textContent = lang === "vi" ? "EN" : "VI";
}
const $ = (id) => document.getElementById(id);
const csrf = () => sessionStorage.getItem("csrf") || "";

/// An error for a failed API call: `status` is the HTTP status (0 when the
/// server could not be reached), `message` the server's own (English) text.
function httpError(status, message, body) {
  const e = new Error(message || String(status));
  e.status = status; e.body = body;
  return e;
}
async function api(path, opts = {}) {
  const headers = Object.assign({ "X-CSRF-Token": csrf() }, opts.headers || {});
  let res;
  try { res = await fetch(path, Object.assign({ credentials: "same-origin" }, opts, { headers })); }
  catch (err) { throw httpError(0, err.message); }
  if (res.status === 401) { location.href = "/"; throw httpError(401, "signed out"); }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!res.ok) throw httpError(res.status, (body && body.error) || res.status + "", body);
  return body;
}

async function nav() {
  const me = await api("/api/v1/auth/me");
  sessionStorage.setItem("csrf", me.csrf);
  setSiteZone(me.time_zone);
  const links = [["/alerts", "live_alerts"]];
  if (me.user.role !== "guard") links.push(["/log", "visitor_log"], ["/register", "register_visitor"], ["/stats", "statistics"]);
  if (me.user.role !== "guard") links.push(["/people", "people"]);
  if (me.user.role !== "guard") links.push(["/devices", "devices"]);
  if (me.user.role === "superadmin") links.push(["/admin", "administration"]);
  const n = $("nav");
  n.innerHTML = "";
  links.forEach(([href, key]) => { const a = document.createElement("a"); a.href = href; a.dataset.t = key; a.style.marginRight = "14px"; n.appendChild(a); });
  const out = document.createElement("a"); out.href = "#"; out.dataset.t = "logout"; out.id = "logout";
  out.onclick = async (e) => { e.preventDefault(); await api("/api/v1/auth/logout", { method: "POST" }); location.href = "/"; };
  n.appendChild(out);
  translate();
  currentUser = me.user;
  // A page for a higher role answers as its API would (403), before it asks
  // for anything: the dispatcher then says which role the page is for.
  if (pageRole && roleRank(me.user.role) < roleRank(pageRole)) throw httpError(403, `this page is for ${pageRole} accounts`);
  return me.user;
}

// ---- formats and labels, shared with the pages' own scripts (people.js, devices.js)
// The sites' time zone: the server's `--time-zone`, said by /api/v1/auth/me.
// Every date shown or typed is in it, whatever the browser's own zone.
let siteZone = "Asia/Ho_Chi_Minh";
let zoneFormat = null;
function setSiteZone(zone) {
  if (!zone || zone === siteZone) return;
  // A zone this browser's own zone data does not know: dates stay in the
  // default zone rather than every date on every page failing.
  try { new Intl.DateTimeFormat("en-GB", { timeZone: zone }); } catch (_) { console.warn("unknown time zone", zone); return; }
  siteZone = zone; zoneFormat = null;
}
/// The parts (day, month, year, hour, minute, second) of a moment in the sites' zone.
function localParts(ms) {
  if (!isFinite(new Date(ms).getTime())) return { year: "", month: "", day: "", hour: "", minute: "", second: "" };
  zoneFormat = zoneFormat || new Intl.DateTimeFormat("en-GB", { timeZone: siteZone, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const o = {};
  for (const p of zoneFormat.formatToParts(new Date(ms))) o[p.type] = p.value;
  return o;
}
/// The zone's offset from UTC at a moment, ms (UTC+7: 25 200 000).
function zoneOffset(ms) {
  const p = localParts(ms);
  return Date.UTC(+p.year, p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}
/// Unix ms of a local day ("YYYY-MM-DD") and time ("HH:MM", midnight if none) in the sites' zone.
function localMs(day, time) {
  const [y, mo, d] = day.split("-").map(Number);
  const [h, mi] = (time || "00:00").split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  // The offset at the answer, which a daylight-saving change may move.
  const o1 = zoneOffset(wall - zoneOffset(wall));
  const o2 = zoneOffset(wall - o1);
  // Agreed: that moment. Not: the time does not exist (clocks jumped over it,
  // as at midnight in some zones): the moment just after the jump, as the server does.
  return o1 === o2 ? wall - o1 : Math.max(wall - o1, wall - o2);
}
/// The local day of a moment, "YYYY-MM-DD".
function localDay(ms) { const p = localParts(ms); return `${p.year}-${p.month}-${p.day}`; }
/// A moment as a datetime-local input's value, "YYYY-MM-DDTHH:MM", in the sites' zone.
function localInput(ms) { const p = localParts(ms); return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`; }
/// A datetime-local value in the sites' zone → unix ms (NaN when empty).
function fromLocalInput(v) { const [day, time] = (v || "").split("T"); return day ? localMs(day, time) : NaN; }
/// A moment as dd/mm/yyyy hh:mm:ss, the sites' time (one format in both languages:
/// the browser's own vi-VN date formats vary between versions).
function fmtTime(ms) {
  if (ms == null || !isFinite(ms)) return "";
  const p = localParts(ms);
  return p.day ? `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}:${p.second}` : "";
}
/// A day as dd/mm/yyyy: from a "YYYY-MM-DD" string (a calendar day the server
/// computed) or from Unix milliseconds (the sites' time).
function fmtDate(d) {
  if (typeof d === "number") { if (!isFinite(d)) return ""; const p = localParts(d); return p.day ? `${p.day}/${p.month}/${p.year}` : ""; }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d || "");
  return m ? `${m[3]}/${m[2]}/${m[1]}` : (d == null ? "" : String(d));
}
/// The day `n` days after a "YYYY-MM-DD" day (calendar days: no clock involved).
function dayPlus(iso, n) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
  return m ? new Date(Date.UTC(+m[1], m[2] - 1, +m[3] + n)).toISOString().slice(0, 10) : iso;
}
/// The day before a "YYYY-MM-DD" day: the last day of a period that ends before it.
function dayBefore(iso) { return dayPlus(iso, -1); }
const numLocale = () => (lang === "vi" ? "vi-VN" : "en-GB");
/// A count as people read it: 1.234 in Vietnamese, 1,234 in English.
function fmtNum(n) { return n == null || n === "" || isNaN(n) ? "" : Number(n).toLocaleString(numLocale()); }
/// A decimal with `digits` places: 0,71 in Vietnamese, 0.71 in English.
function fmtDec(x, digits) {
  return x == null || isNaN(x) ? "" : Number(x).toLocaleString(numLocale(), { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
/// The dictionary's label for `prefix + id`, or the raw id when there is none
/// (with underscores as spaces if `spaces`).
function labelOf(prefix, id, spaces) {
  if (hasT(prefix + id)) return t(prefix + id);
  const raw = id == null ? "" : String(id);
  return spaces ? raw.replace(/_/g, " ") : raw;
}
/// An anomaly kind (`watchlist`, `edge_offline`, …) as people call it.
function kindLabel(kind) { return labelOf("kind_", kind, true); }
/// An account role (`guard`, `admin`, `superadmin`).
function roleLabel(role) { return labelOf("role_", role, false); }
/// A person's category (`staff`, `resident`, `visitor`, `watchlist`).
function categoryLabel(cat) { return labelOf("cat_", cat, false); }
/// An audit action (`login`, `face_viewed`, …); an unknown one stays raw.
function actionLabel(action) { return labelOf("act_", action, false); }
/// A retention class (`unknown_face_crops`, …).
function retentionLabel(cls) { return labelOf("ret_", cls, true); }
/// An alert priority (`urgent`, `high`, `normal`).
function priorityLabel(p) { return labelOf("prio_", p, false); }
const ROLES = ["guard", "admin", "superadmin"];
const roleRank = (role) => ROLES.indexOf(role);
/// Who an alert or a passage is about: "Name (id)", the id, or "unknown person".
function personLabel(name, id) { return name ? (id ? `${name} (${id})` : name) : (id || t("unknown")); }
/// The sentence an alert card shows, composed from the alert's fields in the
/// page's language (the edge agent's English `detail` is only a tooltip).
function alertText(a) {
  const kind = a.kind || "";
  let key = "alert_" + kind;
  if (!hasT(key)) key = "alert_other";
  else if (!a.person_id && hasT(key + "_anon")) key += "_anon";
  return fill(t(key), {
    who: personLabel(a.person_name, a.person_id),
    // An alert with a face of its own was raised as the person was
    // recognised, before they reached the line.
    dir: t(a.direction === "entry" || a.direction === "exit" ? "dir_" + a.direction : a.face_event && a.face_event === a.id ? "dir_near" : "dir_any"),
    camera: a.camera, site: a.site, agent: a.agent, kind: kindLabel(kind),
  });
}

// ---- page state, failures, empty tables
let currentUser = null; // set by nav()
let pageRole = null; // the least role the current page is for (set by the dispatcher)
let rerender = null; // redraws the current page's data in the new language
let banner = null; // the failure the page's banner shows, if any
/// The least role each page is for (a page registered in `window.GW_PAGES`
/// may say its own with a `role` property on its function).
const PAGE_ROLE = { log: "admin", register: "admin", stats: "admin", report: "admin", admin: "superadmin",
  people: "admin", person: "admin", devices: "admin" };
/// Where a role starts: the page a refused page offers instead.
function homeOf(role) { return role && role !== "guard" ? ["/log", "visitor_log"] : ["/alerts", "live_alerts"]; }
/// A failed call as a translated sentence; `overrides` maps a status to the
/// dictionary key of what it means on this form.
function errText(err, overrides = {}) {
  const status = err ? err.status : undefined;
  if (status == null) return t("err_unexpected");
  if (overrides[status]) return t(overrides[status]);
  if (status === 0) return t("err_network");
  if (hasT("err_" + status)) return t("err_" + status);
  return fill(t("err_other"), { status });
}
/// Shows a failure in `el`: the translated sentence; the server's own
/// (English) words follow it in English and are a tooltip in Vietnamese.
function showError(el, err, overrides) {
  const server = err && err.status && err.message ? err.message : "";
  el.textContent = errText(err, overrides) + (lang === "en" && server ? " (" + server + ")" : "");
  el.title = server;
}
/// A failure that leaves the page without (some of) its data: a banner at the
/// top of <main>, redrawn on a language switch.
function showBanner(makeText, err) {
  banner = { makeText, err };
  const main = document.querySelector("main");
  if (!main) return;
  let b = $("page-error");
  if (!b) { b = document.createElement("div"); b.id = "page-error"; b.className = "banner"; b.setAttribute("role", "alert"); main.prepend(b); }
  b.innerHTML = "";
  const s = document.createElement("span"); s.textContent = makeText() + " "; s.title = (err && err.message) || "";
  const a = document.createElement("a"); a.href = location.href; a.dataset.t = "reload"; a.textContent = t("reload");
  b.append(s, a);
}
/// A page this account may not use (its API answered 403): <main> says which
/// role the page is for and links to the page the account can use.
async function showForbidden(err) {
  let user = currentUser;
  if (!user) { try { user = (await api("/api/v1/auth/me")).user; } catch (_) { /* unknown: the general sentence */ } }
  const render = () => {
    const main = document.querySelector("main");
    if (!main) return;
    main.innerHTML = "";
    const box = document.createElement("div"); box.className = "card forbidden"; box.id = "forbidden";
    const h = document.createElement("h1"); h.textContent = t("forbidden_title");
    const p = document.createElement("p");
    if (pageRole && user && roleRank(user.role) < roleRank(pageRole)) {
      const roles = ROLES.slice(roleRank(pageRole)).map(roleLabel).join(t("and"));
      p.textContent = fill(t("forbidden_role"), { roles, role: roleLabel(user.role) });
    } else p.textContent = t("forbidden_data");
    p.title = (err && err.message) || "";
    const [href, key] = homeOf(user && user.role);
    const a = document.createElement("a"); a.id = "forbidden-home"; a.href = href; a.textContent = fill(t("go_to"), { page: t(key) });
    box.append(h, p, a);
    main.append(box);
  };
  banner = null;
  rerender = render;
  render();
}
/// What the dispatcher does with a page that failed to load.
function pageFailed(err) {
  console.error(err);
  if (err && err.status === 401) return; // on its way to the sign-in page
  if (err && err.status === 403) return showForbidden(err);
  showBanner(() => t("load_failed") + " " + errText(err), err);
}
/// A table body with no rows says so, in one full-width row.
function emptyRow(tbody) {
  const table = tbody.closest("table");
  const head = table && table.tHead && table.tHead.rows[0];
  const tr = document.createElement("tr"); tr.className = "empty";
  const td = document.createElement("td"); td.colSpan = (head && head.cells.length) || 1; td.dataset.t = "no_data"; td.textContent = t("no_data");
  tr.append(td);
  tbody.append(tr);
}

// ---- login
/// Why a sign-in failed, translated. 429 is either the failed-login limiter
/// ("too many failed logins; try again in N s") or too many sign-ins being
/// checked at once ("… try again in a few seconds").
function loginErrorText(err) {
  if (err.status === 401) return t("bad_login");
  if (err.status === 429) {
    const m = /try again in (\d+) s/.exec(err.message || "");
    if (!m) return t("login_busy");
    const s = Number(m[1]);
    return s < 60 ? fill(t("login_locked_s"), { n: fmtNum(s) }) : fill(t("login_locked"), { n: fmtNum(Math.ceil(s / 60)) });
  }
  return errText(err);
}
function loginPage() {
  let failed = null;
  const show = () => { $("login-error").textContent = failed ? loginErrorText(failed) : ""; $("login-error").title = (failed && failed.message) || ""; };
  rerender = show;
  $("login-form").onsubmit = async (e) => {
    e.preventDefault();
    failed = null; show();
    try {
      const r = await fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: $("username").value, password: $("password").value }) });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) { failed = httpError(r.status, (body && body.error) || String(r.status), body); show(); return; }
      sessionStorage.setItem("csrf", body.csrf);
      location.href = body.user.role === "guard" ? "/alerts" : "/log";
    } catch (err) { failed = httpError(0, err.message); show(); }
  };
}

// ---- alerts
const PRIORITY = { urgent: 0, high: 1, normal: 2 };
let alerts = [];
function beep(urgent) {
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const o = ctx.createOscillator(); const g = ctx.createGain();
    o.frequency.value = urgent ? 1200 : 800; o.connect(g); g.connect(ctx.destination);
    g.gain.value = 0.2; o.start(); o.stop(ctx.currentTime + (urgent ? 0.6 : 0.25));
  } catch (_) { /* no audio device */ }
}
function renderAlerts() {
  const rank = (p) => (p in PRIORITY ? PRIORITY[p] : 3);
  alerts.sort((a, b) => (!!a.acked_by - !!b.acked_by) || (rank(a.priority) - rank(b.priority)) || (b.created_ms - a.created_ms));
  const box = $("alerts");
  box.innerHTML = "";
  for (const a of alerts) {
    const div = document.createElement("div");
    div.className = "alert " + a.priority + (a.acked_by ? " acked" : "");
    div.dataset.id = a.id; div.dataset.kind = a.kind; div.dataset.priority = a.priority;
    // The face at the gate beside the enrolled photo; an empty frame where
    // there is none (a stranger has no photo, a device alert no face).
    const picture = (src, alt) => {
      if (!src) { const box = document.createElement("div"); box.className = "noface"; return box; }
      const img = document.createElement("img"); img.alt = t(alt); img.src = src; return img;
    };
    const crop = picture(a.face_event ? "/api/v1/faces/crop/" + encodeURIComponent(a.face_event) : null, "alt_crop");
    const photo = picture(a.person_id ? "/api/v1/faces/photo/" + encodeURIComponent(a.person_id) : null, "alt_enrolled");
    // Title and sentence from the alert's fields; the agent's English detail
    // stays a tooltip for engineers.
    const info = document.createElement("div"); info.className = "info"; info.title = a.detail || "";
    const kind = document.createElement("div"); kind.className = "kind"; kind.textContent = kindLabel(a.kind);
    if (a.priority) { const pr = document.createElement("span"); pr.className = "pill prio"; pr.textContent = priorityLabel(a.priority); kind.append(" ", pr); }
    const what = document.createElement("div"); what.className = "what"; what.textContent = alertText(a);
    const when = document.createElement("div"); when.className = "status"; when.textContent = fmtTime(a.created_ms);
    info.append(kind, what, when);
    if (a.acked_by) { const ack = document.createElement("div"); ack.className = "status"; ack.textContent = t("acked_by") + " " + a.acked_by + (a.ack_note ? ": " + a.ack_note : ""); info.append(ack); }
    const sim = document.createElement("div"); sim.className = "sim"; sim.title = t("similarity");
    sim.textContent = a.similarity != null ? Math.round(a.similarity * 100) + "%" : "";
    div.append(crop, photo, info, sim);
    if (!a.acked_by) {
      const b = document.createElement("button"); b.className = "primary"; b.dataset.t = "ack"; b.textContent = t("ack");
      b.onclick = async () => {
        const note = prompt(t("note")) || "";
        try { await api("/api/v1/alerts/" + a.id + "/ack", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ note }) }); }
        catch (err) { showBanner(() => errText(err, { 409: "already_acked" }), err); }
      };
      div.append(b);
    }
    box.appendChild(div);
  }
}
async function alertsPage() {
  await nav();
  const load = async () => { alerts = await api("/api/v1/alerts?limit=100"); renderAlerts(); };
  await load();
  rerender = () => {
    renderAlerts();
    const st = $("stream-status");
    if (st.dataset.state) st.textContent = t(st.dataset.state === "open" ? "connected" : "reconnecting");
  };
  const es = new EventSource("/api/v1/alerts/stream");
  es.onopen = () => { $("stream-status").textContent = t("connected"); $("stream-status").dataset.state = "open"; load().catch((err) => console.error(err)); };
  es.onerror = () => { $("stream-status").textContent = t("reconnecting"); $("stream-status").dataset.state = "reconnecting"; };
  es.addEventListener("alert", (m) => { const a = JSON.parse(m.data); if (!alerts.find((x) => x.id === a.id)) { alerts.push(a); renderAlerts(); beep(a.priority === "urgent"); } });
  // The server ends a stream that lagged (the browser reconnects with the
  // last id it saw and is sent what it missed) or whose session ended.
  es.addEventListener("signed_out", () => { es.close(); location.href = "/"; });
  es.addEventListener("ack", (m) => { const a = JSON.parse(m.data); const x = alerts.find((y) => y.id === a.id); if (x) { x.acked_by = a.acked_by; x.ack_note = a.ack_note; renderAlerts(); } });
}

// ---- log
let page = 0;
function filterQuery() {
  const p = new URLSearchParams();
  const day = (v, end) => localMs(end ? dayPlus(v, 1) : v);
  if ($("f-from").value) p.set("from", day($("f-from").value, false));
  if ($("f-to").value) p.set("to", day($("f-to").value, true));
  for (const k of ["site", "camera", "direction", "q", "known", "anomaly"]) { const v = $("f-" + k).value; if (v) p.set(k, v); }
  return p;
}
let logData = null, detailRow = null;
async function loadLog() {
  const q = filterQuery();
  $("csv-link").href = "/api/v1/log.csv?" + q.toString();
  q.set("page", page);
  logData = await api("/api/v1/log?" + q.toString());
  renderLog();
}
function renderLog() {
  const r = logData;
  if (!r) return;
  $("log-total").textContent = fmtNum(r.total) + " " + t("rows");
  $("page-no").textContent = t("page") + " " + fmtNum(page + 1);
  const tb = $("log-table").querySelector("tbody");
  tb.innerHTML = "";
  for (const row of r.rows) {
    const tr = document.createElement("tr"); tr.dataset.id = row.id;
    const cells = [fmtTime(row.at_ms), row.site, row.camera, t(row.direction), row.name || row.person_id || t("unknown"), row.cccd || "",
      row.similarity != null ? fmtDec(row.similarity, 2) : "", row.anomalies.map(kindLabel).join(", ")];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    tr.children[7].dataset.anomalies = row.anomalies.join(" ");
    const td = document.createElement("td");
    if (row.has_face) { const img = document.createElement("img"); img.loading = "lazy"; img.src = "/api/v1/faces/crop/" + encodeURIComponent(row.id); img.alt = t("alt_crop"); td.appendChild(img); }
    if (row.person_id) {
      const b = document.createElement("button"); b.type = "button"; b.className = "not-person"; b.dataset.t = "not_person"; b.textContent = t("not_person");
      b.onclick = async () => {
        if (!confirm(t("not_person") + ": " + (row.name || row.person_id) + "?")) return;
        try { await api("/api/v1/passages/" + row.id + "/not-person", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }); await loadLog(); }
        catch (err) { showBanner(() => errText(err), err); }
      };
      td.appendChild(b);
    }
    tr.appendChild(td); tb.appendChild(tr);
    tr.onclick = (e) => { if (e.target.tagName !== "BUTTON") showDetail(row); };
  }
  if (!r.rows.length) emptyRow(tb);
}
// The passage detail: the face large, beside the enrolled photo, and every field.
function showDetail(row, scroll = true) {
  detailRow = row;
  const d = $("detail"); d.hidden = false; d.innerHTML = "";
  const imgs = document.createElement("div"); imgs.className = "faces";
  if (row.has_face) { const i = document.createElement("img"); i.src = "/api/v1/faces/crop/" + encodeURIComponent(row.id); i.alt = t("alt_crop"); imgs.append(i); }
  if (row.person_id) { const i = document.createElement("img"); i.src = "/api/v1/faces/photo/" + encodeURIComponent(row.person_id); i.alt = t("alt_enrolled"); imgs.append(i); }
  const dl = document.createElement("dl");
  const fields = [["time", fmtTime(row.at_ms)], ["site", row.site], ["gate", row.camera], ["direction", t(row.direction)],
    ["person", personLabel(row.name, row.person_id)], ["cccd", row.cccd || "—"],
    ["similarity", row.similarity != null ? fmtDec(row.similarity, 3) : "—"], ["anomaly", row.anomalies.map(kindLabel).join(", ") || "—"],
    ["record_id", row.id]];
  for (const [k, v] of fields) { const dt = document.createElement("dt"); dt.textContent = t(k); const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); }
  d.append(imgs, dl);
  if (scroll) d.scrollIntoView({ block: "nearest" });
}
async function logPage() {
  await nav();
  const reload = () => loadLog().catch(pageFailed);
  $("filter-form").onsubmit = (e) => { e.preventDefault(); page = 0; reload(); };
  $("prev").onclick = () => { if (page > 0) { page--; reload(); } };
  $("next").onclick = () => { page++; reload(); };
  rerender = () => { renderLog(); if (detailRow) showDetail(detailRow, false); };
  await loadLog();
}

// ---- register
async function registerPage() {
  const me = await nav();
  $("v-site").value = (me.sites || [])[0] || "";
  $("v-until").value = localDay(Date.now()) + "T23:59";
  $("qr-read").onclick = async () => {
    $("qr-error").textContent = "";
    try {
      const c = await api("/api/v1/visitors/qr", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: $("qr").value }) });
      $("v-name").value = c.name; $("v-cccd").value = c.cccd.number; $("v-birth").value = c.birth_date.year + "-" + String(c.birth_date.month).padStart(2, "0") + "-" + String(c.birth_date.day).padStart(2, "0");
    } catch (err) { showError($("qr-error"), err, { 400: "qr_bad", 422: "qr_bad" }); }
  };
  $("visitor-form").onsubmit = async (e) => {
    e.preventDefault();
    $("v-error").textContent = ""; $("v-ok").textContent = "";
    const until = $("v-until").value ? Math.floor(fromLocalInput($("v-until").value) / 1000) : null;
    const person = { name: $("v-name").value, category: "visitor", cccd: $("v-cccd").value || null, birth_date: $("v-birth").value || null,
      host: $("v-host").value || null, valid_until: until, sites: $("v-site").value ? [$("v-site").value] : [],
      consent_by: $("v-consent").checked ? $("v-name").value : null, consent_purpose: $("v-consent").checked ? "access control (visitor)" : null };
    const fd = new FormData();
    fd.append("person", JSON.stringify(person));
    for (const f of $("v-photo").files) fd.append("photo", f, f.name);
    try {
      const r = await api("/api/v1/people", { method: "POST", body: fd });
      $("v-ok").textContent = t("registered") + ": " + r.id;
    } catch (err) { showError($("v-error"), err, { 409: "person_exists", 422: "photo_unusable" }); }
  };
  $("import-form").onsubmit = async (e) => {
    e.preventDefault(); $("i-error").textContent = "";
    const fd = new FormData(); fd.append("csv", $("i-csv").files[0]); fd.append("photos", $("i-zip").files[0]);
    try {
      const r = await api("/api/v1/people/import", { method: "POST", body: fd });
      const tb = $("import-report").querySelector("tbody"); tb.innerHTML = "";
      const head = document.createElement("tr"); cells(head, [`${fmtNum(r.enrolled)} ${t("import_ok")}, ${fmtNum(r.refused)} ${t("import_failed")}`]); tb.append(head);
      for (const row of r.rows) {
        // A refused line's reason is the server's (English) words: shown in
        // English, a tooltip in Vietnamese.
        const tr = document.createElement("tr");
        cells(tr, ["#" + row.line, row.ok ? row.id : t("import_row_refused") + (lang === "en" && row.error ? ": " + row.error : "")]);
        if (!row.ok) tr.children[1].title = row.error || "";
        tb.append(tr);
      }
    } catch (err) { showError($("i-error"), err); }
  };
}

// ---- administration (superadmins)
function cells(tr, values) { for (const v of values) { const td = document.createElement("td"); td.textContent = v; tr.append(td); } }
function actorLabel(actor) { return actor === "cli" || actor === "retention" ? t("actor_" + actor) : actor; }
/// An audit row's target in words (a face image, a report, a retention
/// class…); the raw target when there are none.
function auditTarget(a) {
  const v = a.target || "";
  let m;
  if (a.action === "face_viewed" && (m = /^(photo|crop):(.+)$/.exec(v))) return fill(t(m[1] === "photo" ? "at_photo" : "at_crop"), { p: m[2] });
  if (a.action === "report" && (m = /^(weekly|monthly):(.*)$/.exec(v))) return t(m[1] + "_title") + ": " + m[2];
  if (a.action === "retention_changed") return retentionLabel(v);
  if (v === "log") return t("at_log");
  if (v === "log.csv") return t("at_log_csv");
  if (v === "people" && a.action === "cccd_viewed") return t("at_people");
  return v;
}
/// The detail texts the server writes (admin-api/src, `audit::record`), per
/// action, translated; any other detail (an IP address, a note) stays as is.
const AUDIT_DETAILS = [
  [["enrolment", "photos_added"], /^(\d+) photo\(s\)$/, (m) => fill(t("ad_photos"), { n: fmtNum(m[1]) })],
  [["deletion"], /^person, photos and embeddings$/, () => t("ad_deleted")],
  [["password_reset"], /^sessions ended$/, () => t("ad_sessions_ended")],
  [["password_changed"], /^other sessions ended$/, () => t("ad_other_sessions_ended")],
  [["audit_viewed"], /^page (\d+)$/, (m) => fill(t("ad_page"), { n: fmtNum(+m[1] + 1) })],
  [["export"], /^(\d+) rows; filter ([\s\S]*)$/, (m) => fill(t("ad_export"), { n: fmtNum(m[1]), f: filterText(m[2]) })],
  [["bulk_import"], /^(\d+) enrolled, (\d+) refused$/, (m) => fill(t("ad_import"), { ok: fmtNum(m[1]), failed: fmtNum(m[2]) })],
  [["correction"], /^not (.+)$/, (m) => fill(t("ad_not"), { p: m[1] })],
  [["audit_purged"], /^the chain starts after this row$/, () => t("ad_chain")],
  [["cccd_viewed"], /^(\d+) CCCD numbers on page (\d+); filter ([\s\S]*)$/, (m) => fill(t("ad_cccd_log"), { n: fmtNum(m[1]), p: fmtNum(+m[2] + 1), f: filterText(m[3]) })],
  [["cccd_viewed"], /^(\d+) people, (\d+) CCCD numbers; search ([\s\S]*)$/, (m) => fill(t("ad_cccd_people"), { n: fmtNum(m[1]), c: fmtNum(m[2]), q: m[3] })],
  [["report"], /^(\d{4}-\d\d-\d\d)\.\.(\d{4}-\d\d-\d\d)$/, (m) => fill(t("period_short"), { start: fmtDate(m[1]), end: fmtDate(dayBefore(m[2])) })],
  [["expectation"], /^cleared$/, () => t("ad_cleared")],
];
// A visitor-log filter as the audit stored it (JSON), in words.
function filterText(json) {
  let o;
  try { o = JSON.parse(json); } catch (_) { return json; }
  if (!o || typeof o !== "object") return json;
  const parts = [];
  for (const [k, v] of Object.entries(o)) {
    if (v == null || v === "" || k === "page" || k === "per_page") continue;
    if (k === "from" || k === "to") parts.push(t(k) + " " + fmtTime(Number(v)));
    else if (k === "direction") parts.push(t("direction") + ": " + t(v));
    else if (k === "known") parts.push(t("known") + ": " + t(String(v) === "true" ? "known_yes" : "known_no"));
    else if (k === "anomaly") parts.push(t("anomaly") + ": " + kindLabel(v));
    else if (k === "camera") parts.push(t("gate") + ": " + v);
    else if (k === "q") parts.push(t("person") + ": " + v);
    else parts.push((hasT(k) ? t(k) : k) + ": " + v);
  }
  return parts.length ? parts.join(", ") : "—";
}
function auditDetail(a) {
  const v = a.detail || "";
  if (a.action === "user_created" && hasT("role_" + v)) return roleLabel(v);
  if (a.action === "retention_changed" && /^\d+$/.test(v)) return fill(t("days_n"), { n: fmtNum(v) });
  if (a.action === "purge") {
    try {
      const o = JSON.parse(v);
      if (o && typeof o === "object") return Object.entries(o).map(([k, n]) => retentionLabel(k) + ": " + fmtNum(n)).join("; ");
    } catch (_) { /* not the purge summary: as is */ }
  }
  for (const [actions, re, f] of AUDIT_DETAILS) {
    const m = actions.includes(a.action) ? re.exec(v) : null;
    if (m) return f(m);
  }
  return v;
}
async function adminPage() {
  await nav();
  let users = [], auditRows = [];
  const renderUsers = () => {
    const tb = $("users-table").querySelector("tbody"); tb.innerHTML = "";
    for (const u of users) {
      const tr = document.createElement("tr"); tr.dataset.role = u.role;
      const sites = (u.sites || []).length ? u.sites.join(", ") : (u.role === "superadmin" ? t("all_sites") : "—");
      cells(tr, [u.username, roleLabel(u.role), sites]);
      tb.append(tr);
    }
    if (!users.length) emptyRow(tb);
  };
  const loadUsers = async () => { users = await api("/api/v1/users"); renderUsers(); };
  const renderAudit = () => {
    const tb = $("audit-table").querySelector("tbody"); tb.innerHTML = "";
    for (const a of auditRows) {
      // The raw action stays on the row (data-action) and as the cell's tooltip.
      const tr = document.createElement("tr"); tr.dataset.action = a.action;
      const target = auditTarget(a), detail = auditDetail(a);
      cells(tr, [fmtTime(a.at_ms), actorLabel(a.actor), actionLabel(a.action), target, detail]);
      tr.children[1].title = a.actor; tr.children[2].title = a.action; tr.children[2].dataset.action = a.action;
      if (target !== a.target) tr.children[3].title = a.target;
      if (detail !== a.detail) tr.children[4].title = a.detail;
      tb.append(tr);
    }
    if (!auditRows.length) emptyRow(tb);
  };
  $("user-form").onsubmit = async (e) => {
    e.preventDefault(); $("u-error").textContent = "";
    try {
      await api("/api/v1/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: $("u-name").value, password: $("u-pass").value, role: $("u-role").value, sites: $("u-sites").value.split(",").map((x) => x.trim()).filter(Boolean) }) });
      $("u-pass").value = ""; $("u-name").value = ""; loadUsers().catch(pageFailed);
    } catch (err) { showError($("u-error"), err, { 400: "user_invalid", 409: "user_exists" }); }
  };
  const retention = await api("/api/v1/retention");
  for (const [cls, days] of Object.entries(retention)) {
    const d = document.createElement("div"); const l = document.createElement("label"); l.dataset.cls = cls; l.textContent = retentionLabel(cls);
    const i = document.createElement("input"); i.type = "number"; i.min = cls === "audit" ? 1095 : 1; i.max = 3650; i.value = days; i.dataset.cls = cls;
    i.id = "ret-" + cls; l.htmlFor = i.id;
    d.append(l, i); $("retention-fields").append(d);
  }
  $("retention-form").onsubmit = async (e) => {
    e.preventDefault(); $("r-error").textContent = ""; $("r-ok").textContent = "";
    const body = {}; $("retention-fields").querySelectorAll("input").forEach((i) => { body[i.dataset.cls] = Number(i.value); });
    try { await api("/api/v1/retention", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }); $("r-ok").textContent = t("saved"); } catch (err) { showError($("r-error"), err, { 400: "retention_invalid" }); }
  };
  auditRows = (await api("/api/v1/audit")).rows;
  renderAudit();
  await loadUsers();
  rerender = () => {
    renderUsers(); renderAudit();
    $("retention-fields").querySelectorAll("label[data-cls]").forEach((l) => { l.textContent = retentionLabel(l.dataset.cls); });
  };
}

// ---- statistics (SVG charts drawn here: no chart library, no CDN)
const SVGNS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
/// `text` in lines of at most `perLine` characters, at most `maxLines` of them
/// (the last one cut with "…" when the text is longer).
function wrapWords(text, perLine, maxLines) {
  const lines = [];
  let cur = "";
  for (const w of String(text).split(/\s+/).filter(Boolean)) {
    if (!cur) cur = w;
    else if ((cur + " " + w).length <= perLine) cur += " " + w;
    else { lines.push(cur); cur = w; }
  }
  if (cur) lines.push(cur);
  const cut = lines.length > maxLines;
  if (cut) lines.length = maxLines;
  return lines.map((l, i) => ((cut && i === maxLines - 1) || l.length > perLine ? l.slice(0, Math.max(1, perLine - 1)) + "…" : l));
}
/// Grouped bars: labels[i] with one bar per series (name, colour, values).
/// `opts.wrap`: every label shown, on up to three lines (long category names).
function barChart(box, labels, series, opts = {}) {
  const W = opts.width || 900, H = opts.height || 240, pad = 34, bottom = opts.wrap ? 66 : 40;
  // Whole-number gridlines: counts have no fractions.
  const step = Math.max(1, Math.ceil(Math.max(1, ...series.flatMap((s) => s.values)) / 4));
  const max = step * 4;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const plotW = W - pad - 10, plotH = H - bottom - 10;
  for (let g = 0; g <= 4; g++) {
    const y = 10 + plotH - (plotH * g) / 4;
    svg.append(svgEl("line", { x1: pad, x2: W - 10, y1: y, y2: y, stroke: "#e2e6ec" }));
    svg.append(svgEl("text", { x: pad - 4, y: y + 4, "text-anchor": "end" }, fmtNum(step * g)));
  }
  const groupW = plotW / Math.max(1, labels.length), barW = Math.min(60, Math.max(2, (groupW * 0.8) / series.length));
  labels.forEach((label, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] || 0, h = (plotH * v) / max;
      const x = pad + i * groupW + (groupW - barW * series.length) / 2 + j * barW;
      const r = svgEl("rect", { x, y: 10 + plotH - h, width: barW - 1, height: h, fill: s.color });
      r.append(svgEl("title", {}, `${label} · ${s.name}: ${fmtNum(v)}`));
      svg.append(r);
    });
    const cx = pad + i * groupW + groupW / 2;
    if (opts.wrap) {
      const text = svgEl("text", { x: cx, y: H - bottom + 14, "text-anchor": "middle" });
      wrapWords(label, Math.max(4, Math.floor(groupW / 6.2)), 3).forEach((line, k) => text.append(svgEl("tspan", { x: cx, dy: k ? 13 : 0 }, line)));
      text.append(svgEl("title", {}, label));
      svg.append(text);
    } else {
      const every = Math.ceil(labels.length / Math.max(1, Math.floor(plotW / 42)));
      if (i % every === 0) svg.append(svgEl("text", { x: cx, y: H - bottom + 14, "text-anchor": "middle" }, label));
    }
  });
  series.forEach((s, j) => {
    svg.append(svgEl("rect", { x: pad + j * 110, y: H - 16, width: 10, height: 10, fill: s.color }));
    svg.append(svgEl("text", { x: pad + j * 110 + 14, y: H - 7 }, s.name));
  });
  box.innerHTML = "";
  box.append(svg);
}
function kpi(label, value) {
  const d = document.createElement("div"); d.className = "card";
  const v = document.createElement("div"); v.className = "value"; v.textContent = value;
  const l = document.createElement("div"); l.className = "status"; l.textContent = label;
  d.append(v, l); return d;
}
let statsData = null;
async function loadStats() {
  const days = Number($("s-days").value), to = Date.now(), from = to - days * 86400000;
  const bucket = days <= 1 ? "hour" : "day";
  const p = new URLSearchParams({ from, to, bucket });
  if ($("s-site").value) p.set("site", $("s-site").value);
  statsData = { s: await api("/api/v1/stats?" + p.toString()), from, to, bucket };
  renderStats();
  $("kpis").dataset.loaded = "true";
}
function renderStats() {
  if (!statsData) return;
  const { s, from, to, bucket } = statsData;
  const inside = s.occupancy.reduce((a, o) => a + o.inside, 0);
  const k = $("kpis"); k.innerHTML = "";
  k.append(kpi(t("occupancy"), fmtNum(inside)), kpi(t("passages"), fmtNum(s.passages)), kpi(t("unique_people"), fmtNum(s.unique_people)),
    kpi(t("unknown_share"), fmtNum(Math.round(s.unknown_share * 100)) + "%"));
  // Entries and exits per bucket, all gates together.
  const starts = [];
  // Bucket starts as the server makes them: local hours, or local midnights
  // (a day of a daylight-saving change is 23 or 25 hours long).
  const next = (b) => (bucket === "hour" ? b + 3600000 : localMs(dayPlus(localDay(b), 1)));
  const first = bucket === "hour" ? from - ((from + zoneOffset(from)) % 3600000) : localMs(localDay(from));
  for (let b = first; b < to; b = Math.max(next(b), b + 3600000)) starts.push(b);
  const idx = new Map(starts.map((b, i) => [b, i]));
  const entries = starts.map(() => 0), exits = starts.map(() => 0);
  for (const b of s.series) { const i = idx.get(b.start_ms); if (i != null) { entries[i] += b.entries; exits[i] += b.exits; } }
  // The sites' time: the hour ("14h") or the day (dd/mm).
  const label = (ms) => { const v = localParts(ms); return bucket === "hour" ? v.hour + "h" : v.day + "/" + v.month; };
  barChart($("chart-flow"), starts.map(label), [{ name: t("entry"), color: "#2b6cb0", values: entries }, { name: t("exit"), color: "#dd6b20", values: exits }]);
  barChart($("chart-hours"), [...Array(24).keys()].map((h) => h + "h"), [{ name: t("entry"), color: "#2b6cb0", values: s.hourly_entries }], { width: 460, height: 240 });
  $("peaks").textContent = t("peak") + ": " + (s.peak_hours.map((p) => `${p.hour}h–${p.hour + 1}h (${fmtNum(p.entries)})`).join(", ") || t("no_data"));
  const kinds = Object.keys(s.anomalies);
  if (kinds.length) {
    barChart($("chart-anomalies"), kinds.map(kindLabel), [{ name: t("anomaly"), color: "#c53030", values: kinds.map((k) => s.anomalies[k]) }], { width: 460, height: 240, wrap: true });
  } else {
    const box = $("chart-anomalies"); box.innerHTML = "";
    const none = document.createElement("p"); none.className = "status"; none.dataset.t = "no_data"; none.textContent = t("no_data"); box.append(none);
  }
}
function reportLinks(me) {
  const site = $("s-site").value || (me.sites || [])[0] || "";
  const q = new URLSearchParams({ site, date: $("r-date").value });
  $("r-csv").href = `/api/v1/reports/${$("r-kind").value}?${q}&format=csv`;
  $("r-print").href = `/report?kind=${$("r-kind").value}&${q}`;
}
async function statsPage() {
  const me = await nav();
  $("s-site").value = (me.sites || [])[0] || "";
  $("r-date").value = localDay(Date.now());
  $("stats-form").onsubmit = (e) => { e.preventDefault(); loadStats().catch(pageFailed); reportLinks(me); };
  for (const id of ["r-kind", "r-date", "s-site"]) $(id).onchange = () => reportLinks(me);
  reportLinks(me);
  rerender = renderStats;
  await loadStats();
}
async function reportPage() {
  const q = new URLSearchParams(location.search);
  const kind = q.get("kind") || "weekly";
  const r = await api(`/api/v1/reports/${kind}?site=${encodeURIComponent(q.get("site") || "")}&date=${q.get("date") || ""}`);
  const render = () => {
    $("report-title").textContent = t(kind + "_title") + " · " + r.site;
    // The period ends before `end_exclusive`: its last day is the day before.
    $("report-period").textContent = fill(t("period_text"), { start: fmtDate(r.start), end: fmtDate(dayBefore(r.end_exclusive)), zone: siteZone });
    const tb = $("report-table").querySelector("tbody");
    tb.innerHTML = "";
    for (const row of r.rows.concat([r.total])) {
      const tr = document.createElement("tr");
      const total = row === r.total || row.date === "TOTAL";
      if (total) tr.className = "total";
      cells(tr, [total ? t("total") : fmtDate(row.date), row.gate, fmtNum(row.entries), fmtNum(row.exits), fmtNum(row.unique_people), fmtNum(row.unknown), fmtNum(row.anomalies)]);
      tb.append(tr);
    }
    const ul = $("report-anomalies");
    ul.innerHTML = "";
    for (const [k, n] of Object.entries(r.anomalies_by_kind)) { const li = document.createElement("li"); li.dataset.kind = k; li.textContent = `${kindLabel(k)}: ${fmtNum(n)}`; ul.append(li); }
    if (!ul.children.length) { const li = document.createElement("li"); li.className = "empty"; li.dataset.t = "no_data"; li.textContent = t("no_data"); ul.append(li); }
  };
  render();
  rerender = render;
  $("print").onclick = () => window.print();
  translate();
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  const b = $("lang");
  if (b) b.onclick = () => {
    lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("lang", lang); translate();
    if (rerender) rerender();
    if (banner && $("page-error")) showBanner(banner.makeText, banner.err);
    // For other scripts' pages: redraw what translate() cannot.
    document.dispatchEvent(new CustomEvent("gw:lang", { detail: { lang } }));
  };
  const pages = { login: loginPage, alerts: alertsPage, log: logPage, register: registerPage, stats: statsPage, report: reportPage, admin: adminPage };
  // Pages of other scripts (people.js), loaded after this one.
  Object.assign(pages, window.GW_PAGES || {});
  const name = document.body.dataset.page;
  const f = pages[name];
  if (f) {
    // A refused page (403) says which role it is for; other failures show a banner.
    pageRole = f.role || PAGE_ROLE[name] || null;
    Promise.resolve().then(() => f()).catch(pageFailed);
  }
});
