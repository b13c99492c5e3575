// gatewatch web UI: login, live alerts (SSE), visitor log with CSV export,
// visitor registration from a CCCD QR code. Vietnamese by default.
"use strict";

const T = {
  vi: {
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
    bulk_import: "Nhập hàng loạt", bulk_import_hint: "Tệp CSV (id, name, category, cccd, birth_date, sites, valid_until, host, consent_by, consent_purpose) và tệp ZIP ảnh đặt tên theo mã hoặc CCCD",
    import: "Nhập", import_ok: "đã đăng ký", import_failed: "bị từ chối",
  },
  en: {
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
    bulk_import: "Bulk import", bulk_import_hint: "A CSV file (id, name, category, cccd, birth_date, sites, valid_until, host, consent_by, consent_purpose) and a ZIP of photos named by id or CCCD",
    import: "Import", import_ok: "enrolled", import_failed: "refused",
  },
};
let lang = localStorage.getItem("lang") || "vi";
const t = (k) => (T[lang] && T[lang][k]) || k;
function translate() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  const b = document.getElementById("lang");
  if (b) b.textContent = lang === "vi" ? "EN" : "VI";
}
const $ = (id) => document.getElementById(id);
const csrf = () => sessionStorage.getItem("csrf") || "";

async function api(path, opts = {}) {
  const headers = Object.assign({ "X-CSRF-Token": csrf() }, opts.headers || {});
  const res = await fetch(path, Object.assign({ credentials: "same-origin" }, opts, { headers }));
  if (res.status === 401) { location.href = "/"; throw new Error("signed out"); }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = text; }
  if (!res.ok) throw new Error((body && body.error) || res.status + "");
  return body;
}

async function nav() {
  const me = await api("/api/v1/auth/me");
  sessionStorage.setItem("csrf", me.csrf);
  const links = [["/alerts", "live_alerts"]];
  if (me.user.role !== "guard") links.push(["/log", "visitor_log"], ["/register", "register_visitor"], ["/stats", "statistics"]);
  if (me.user.role === "superadmin") links.push(["/admin", "administration"]);
  const n = $("nav");
  n.innerHTML = "";
  links.forEach(([href, key]) => { const a = document.createElement("a"); a.href = href; a.dataset.t = key; a.style.marginRight = "14px"; n.appendChild(a); });
  const out = document.createElement("a"); out.href = "#"; out.dataset.t = "logout"; out.id = "logout";
  out.onclick = async (e) => { e.preventDefault(); await api("/api/v1/auth/logout", { method: "POST" }); location.href = "/"; };
  n.appendChild(out);
  translate();
  return me.user;
}

function fmtTime(ms) {
  return new Date(ms).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", { timeZone: "Asia/Ho_Chi_Minh" });
}

// ---- login
function loginPage() {
  $("login-form").onsubmit = async (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    try {
      const r = await fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: $("username").value, password: $("password").value }) });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) { $("login-error").textContent = r.status === 401 ? t("bad_login") : (body.error || r.status); return; }
      sessionStorage.setItem("csrf", body.csrf);
      location.href = body.user.role === "guard" ? "/alerts" : "/log";
    } catch (err) { $("login-error").textContent = err.message; }
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
  alerts.sort((a, b) => (!!a.acked_by - !!b.acked_by) || (PRIORITY[a.priority] - PRIORITY[b.priority]) || (b.created_ms - a.created_ms));
  const box = $("alerts");
  box.innerHTML = "";
  for (const a of alerts) {
    const div = document.createElement("div");
    div.className = "alert " + a.priority + (a.acked_by ? " acked" : "");
    div.dataset.id = a.id; div.dataset.kind = a.kind;
    const crop = document.createElement("img"); crop.alt = "crop";
    if (a.passage_id && a.has_face) crop.src = "/api/v1/faces/crop/" + encodeURIComponent(a.passage_id);
    const photo = document.createElement("img"); photo.alt = "enrolled";
    if (a.person_id) photo.src = "/api/v1/faces/photo/" + encodeURIComponent(a.person_id);
    const info = document.createElement("div"); info.className = "info";
    const kind = document.createElement("div"); kind.className = "kind"; kind.textContent = a.kind.replace(/_/g, " ");
    const who = document.createElement("div"); who.textContent = (a.person_name || a.person_id || t("unknown")) + " · " + a.site + " / " + a.camera;
    const detail = document.createElement("div"); detail.className = "status"; detail.textContent = a.detail + " · " + fmtTime(a.created_ms);
    info.append(kind, who, detail);
    if (a.acked_by) { const ack = document.createElement("div"); ack.className = "status"; ack.textContent = t("acked_by") + " " + a.acked_by + (a.ack_note ? ": " + a.ack_note : ""); info.append(ack); }
    const sim = document.createElement("div"); sim.className = "sim"; sim.textContent = a.similarity != null ? Math.round(a.similarity * 100) + "%" : "";
    div.append(crop, photo, info, sim);
    if (!a.acked_by) {
      const b = document.createElement("button"); b.className = "primary"; b.dataset.t = "ack"; b.textContent = t("ack");
      b.onclick = async () => { const note = prompt(t("note")) || ""; await api("/api/v1/alerts/" + a.id + "/ack", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ note }) }); };
      div.append(b);
    }
    box.appendChild(div);
  }
}
async function alertsPage() {
  await nav();
  const load = async () => { alerts = await api("/api/v1/alerts?limit=100"); renderAlerts(); };
  await load();
  const es = new EventSource("/api/v1/alerts/stream");
  es.onopen = () => { $("stream-status").textContent = t("connected"); $("stream-status").dataset.state = "open"; load(); };
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
  const day = (v, end) => { const d = new Date(v + "T00:00:00+07:00"); return d.getTime() + (end ? 86400000 : 0); };
  if ($("f-from").value) p.set("from", day($("f-from").value, false));
  if ($("f-to").value) p.set("to", day($("f-to").value, true));
  for (const k of ["site", "camera", "direction", "q", "known", "anomaly"]) { const v = $("f-" + k).value; if (v) p.set(k, v); }
  return p;
}
async function loadLog() {
  const q = filterQuery();
  $("csv-link").href = "/api/v1/log.csv?" + q.toString();
  q.set("page", page);
  const r = await api("/api/v1/log?" + q.toString());
  $("log-total").textContent = r.total + " " + t("rows");
  $("page-no").textContent = t("page") + " " + (page + 1);
  const tb = $("log-table").querySelector("tbody");
  tb.innerHTML = "";
  for (const row of r.rows) {
    const tr = document.createElement("tr"); tr.dataset.id = row.id;
    const cells = [fmtTime(row.at_ms), row.site, row.camera, t(row.direction), row.name || row.person_id || t("unknown"), row.cccd || "", row.similarity != null ? row.similarity.toFixed(2) : "", row.anomalies.join(", ")];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    const td = document.createElement("td");
    if (row.has_face) { const img = document.createElement("img"); img.loading = "lazy"; img.src = "/api/v1/faces/crop/" + encodeURIComponent(row.id); img.alt = "face"; td.appendChild(img); }
    if (row.person_id) {
      const b = document.createElement("button"); b.type = "button"; b.className = "not-person"; b.dataset.t = "not_person"; b.textContent = t("not_person");
      b.onclick = async () => { if (confirm(t("not_person") + ": " + (row.name || row.person_id) + "?")) { await api("/api/v1/passages/" + row.id + "/not-person", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }); loadLog(); } };
      td.appendChild(b);
    }
    tr.appendChild(td); tb.appendChild(tr);
    tr.onclick = (e) => { if (e.target.tagName !== "BUTTON") showDetail(row); };
  }
}
// The passage detail: the face large, beside the enrolled photo, and every field.
function showDetail(row) {
  const d = $("detail"); d.hidden = false; d.innerHTML = "";
  const imgs = document.createElement("div"); imgs.className = "faces";
  if (row.has_face) { const i = document.createElement("img"); i.src = "/api/v1/faces/crop/" + encodeURIComponent(row.id); i.alt = "face"; imgs.append(i); }
  if (row.person_id) { const i = document.createElement("img"); i.src = "/api/v1/faces/photo/" + encodeURIComponent(row.person_id); i.alt = "enrolled"; imgs.append(i); }
  const dl = document.createElement("dl");
  const fields = [["time", fmtTime(row.at_ms)], ["site", row.site], ["gate", row.camera], ["direction", t(row.direction)],
    ["person", (row.name || t("unknown")) + (row.person_id ? " (" + row.person_id + ")" : "")], ["CCCD", row.cccd || "—"],
    ["similarity", row.similarity != null ? row.similarity.toFixed(3) : "—"], ["anomaly", row.anomalies.join(", ") || "—"], ["ID", row.id]];
  for (const [k, v] of fields) { const dt = document.createElement("dt"); dt.textContent = t(k); const dd = document.createElement("dd"); dd.textContent = v; dl.append(dt, dd); }
  d.append(imgs, dl);
  d.scrollIntoView({ block: "nearest" });
}
async function logPage() {
  await nav();
  $("filter-form").onsubmit = (e) => { e.preventDefault(); page = 0; loadLog(); };
  $("prev").onclick = () => { if (page > 0) { page--; loadLog(); } };
  $("next").onclick = () => { page++; loadLog(); };
  await loadLog();
}

// ---- register
async function registerPage() {
  const me = await nav();
  $("v-site").value = (me.sites || [])[0] || "";
  const eod = new Date(Date.now() + 7 * 3600000); eod.setUTCHours(23, 59, 0, 0);
  $("v-until").value = eod.toISOString().slice(0, 16);
  $("qr-read").onclick = async () => {
    $("qr-error").textContent = "";
    try {
      const c = await api("/api/v1/visitors/qr", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: $("qr").value }) });
      $("v-name").value = c.name; $("v-cccd").value = c.cccd.number; $("v-birth").value = c.birth_date.year + "-" + String(c.birth_date.month).padStart(2, "0") + "-" + String(c.birth_date.day).padStart(2, "0");
    } catch (err) { $("qr-error").textContent = err.message; }
  };
  $("visitor-form").onsubmit = async (e) => {
    e.preventDefault();
    $("v-error").textContent = ""; $("v-ok").textContent = "";
    const until = $("v-until").value ? Math.floor(new Date($("v-until").value + ":00+07:00").getTime() / 1000) : null;
    const person = { name: $("v-name").value, category: "visitor", cccd: $("v-cccd").value || null, birth_date: $("v-birth").value || null,
      host: $("v-host").value || null, valid_until: until, sites: $("v-site").value ? [$("v-site").value] : [],
      consent_by: $("v-consent").checked ? $("v-name").value : null, consent_purpose: $("v-consent").checked ? "access control (visitor)" : null };
    const fd = new FormData();
    fd.append("person", JSON.stringify(person));
    for (const f of $("v-photo").files) fd.append("photo", f, f.name);
    try {
      const r = await api("/api/v1/people", { method: "POST", body: fd });
      $("v-ok").textContent = t("registered") + ": " + r.id;
    } catch (err) { $("v-error").textContent = err.message; }
  };
  $("import-form").onsubmit = async (e) => {
    e.preventDefault(); $("i-error").textContent = "";
    const fd = new FormData(); fd.append("csv", $("i-csv").files[0]); fd.append("photos", $("i-zip").files[0]);
    try {
      const r = await api("/api/v1/people/import", { method: "POST", body: fd });
      const tb = $("import-report").querySelector("tbody"); tb.innerHTML = "";
      const head = document.createElement("tr"); cells(head, [`${r.enrolled} ${t("import_ok")}, ${r.refused} ${t("import_failed")}`]); tb.append(head);
      for (const row of r.rows) { const tr = document.createElement("tr"); cells(tr, ["#" + row.line, row.ok ? row.id : row.error]); tb.append(tr); }
    } catch (err) { $("i-error").textContent = err.message; }
  };
}

// ---- administration (superadmins)
function cells(tr, values) { for (const v of values) { const td = document.createElement("td"); td.textContent = v; tr.append(td); } }
async function adminPage() {
  await nav();
  const loadUsers = async () => {
    const tb = $("users-table").querySelector("tbody"); tb.innerHTML = "";
    for (const u of await api("/api/v1/users")) { const tr = document.createElement("tr"); cells(tr, [u.username, u.role, u.sites.join(", ")]); tb.append(tr); }
  };
  $("user-form").onsubmit = async (e) => {
    e.preventDefault(); $("u-error").textContent = "";
    try {
      await api("/api/v1/users", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username: $("u-name").value, password: $("u-pass").value, role: $("u-role").value, sites: $("u-sites").value.split(",").map((x) => x.trim()).filter(Boolean) }) });
      $("u-pass").value = ""; $("u-name").value = ""; loadUsers();
    } catch (err) { $("u-error").textContent = err.message; }
  };
  const retention = await api("/api/v1/retention");
  for (const [cls, days] of Object.entries(retention)) {
    const d = document.createElement("div"); const l = document.createElement("label"); l.textContent = cls.replace(/_/g, " ");
    const i = document.createElement("input"); i.type = "number"; i.min = 1; i.max = 3650; i.value = days; i.dataset.cls = cls; d.append(l, i); $("retention-fields").append(d);
  }
  $("retention-form").onsubmit = async (e) => {
    e.preventDefault(); $("r-error").textContent = ""; $("r-ok").textContent = "";
    const body = {}; $("retention-fields").querySelectorAll("input").forEach((i) => { body[i.dataset.cls] = Number(i.value); });
    try { await api("/api/v1/retention", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }); $("r-ok").textContent = t("saved"); } catch (err) { $("r-error").textContent = err.message; }
  };
  const audit = await api("/api/v1/audit");
  const tb = $("audit-table").querySelector("tbody");
  for (const a of audit.rows) { const tr = document.createElement("tr"); cells(tr, [fmtTime(a.at_ms), a.actor, a.action, a.target, a.detail]); tb.append(tr); }
  await loadUsers();
}

// ---- statistics (SVG charts drawn here: no chart library, no CDN)
const SVGNS = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
/// Grouped bars: labels[i] with one bar per series (name, colour, values).
function barChart(box, labels, series, opts = {}) {
  const W = opts.width || 900, H = opts.height || 240, pad = 34, bottom = 40;
  // Whole-number gridlines: counts have no fractions.
  const step = Math.max(1, Math.ceil(Math.max(1, ...series.flatMap((s) => s.values)) / 4));
  const max = step * 4;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  const plotW = W - pad - 10, plotH = H - bottom - 10;
  for (let g = 0; g <= 4; g++) {
    const y = 10 + plotH - (plotH * g) / 4;
    svg.append(svgEl("line", { x1: pad, x2: W - 10, y1: y, y2: y, stroke: "#e2e6ec" }));
    svg.append(svgEl("text", { x: pad - 4, y: y + 4, "text-anchor": "end" }, step * g));
  }
  const groupW = plotW / Math.max(1, labels.length), barW = Math.min(60, Math.max(2, (groupW * 0.8) / series.length));
  labels.forEach((label, i) => {
    series.forEach((s, j) => {
      const v = s.values[i] || 0, h = (plotH * v) / max;
      const x = pad + i * groupW + (groupW - barW * series.length) / 2 + j * barW;
      const r = svgEl("rect", { x, y: 10 + plotH - h, width: barW - 1, height: h, fill: s.color });
      r.append(svgEl("title", {}, `${label} · ${s.name}: ${v}`));
      svg.append(r);
    });
    const every = Math.ceil(labels.length / Math.max(1, Math.floor(plotW / 42)));
    if (i % every === 0) svg.append(svgEl("text", { x: pad + i * groupW + groupW / 2, y: H - bottom + 14, "text-anchor": "middle" }, label));
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
async function loadStats() {
  const days = Number($("s-days").value), to = Date.now(), from = to - days * 86400000;
  const bucket = days <= 1 ? "hour" : "day";
  const p = new URLSearchParams({ from, to, bucket });
  if ($("s-site").value) p.set("site", $("s-site").value);
  const s = await api("/api/v1/stats?" + p.toString());
  const inside = s.occupancy.reduce((a, o) => a + o.inside, 0);
  const k = $("kpis"); k.innerHTML = "";
  k.append(kpi(t("occupancy"), inside), kpi(t("passages"), s.passages), kpi(t("unique_people"), s.unique_people),
    kpi(t("unknown_share"), Math.round(s.unknown_share * 100) + "%"));
  // Entries and exits per bucket, all gates together.
  const starts = [];
  for (let b = Math.floor((from + 25200000) / s.bucket_ms) * s.bucket_ms - 25200000; b < to; b += s.bucket_ms) starts.push(b);
  const idx = new Map(starts.map((b, i) => [b, i]));
  const entries = starts.map(() => 0), exits = starts.map(() => 0);
  for (const b of s.series) { const i = idx.get(b.start_ms); if (i != null) { entries[i] += b.entries; exits[i] += b.exits; } }
  const label = (ms) => new Date(ms).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", bucket === "hour"
    ? { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit" } : { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit" });
  barChart($("chart-flow"), starts.map(label), [{ name: t("entry"), color: "#2b6cb0", values: entries }, { name: t("exit"), color: "#dd6b20", values: exits }]);
  barChart($("chart-hours"), [...Array(24).keys()].map((h) => h + "h"), [{ name: t("entry"), color: "#2b6cb0", values: s.hourly_entries }], { width: 460, height: 240 });
  $("peaks").textContent = t("peak") + ": " + s.peak_hours.map((p) => `${p.hour}h–${p.hour + 1}h (${p.entries})`).join(", ");
  const kinds = Object.keys(s.anomalies);
  barChart($("chart-anomalies"), kinds.map((k) => k.replace(/_/g, " ")), [{ name: t("anomaly"), color: "#c53030", values: kinds.map((k) => s.anomalies[k]) }], { width: 460, height: 240 });
  $("kpis").dataset.loaded = "true";
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
  $("r-date").value = new Date(Date.now() + 25200000).toISOString().slice(0, 10);
  $("stats-form").onsubmit = (e) => { e.preventDefault(); loadStats(); reportLinks(me); };
  for (const id of ["r-kind", "r-date", "s-site"]) $(id).onchange = () => reportLinks(me);
  reportLinks(me);
  await loadStats();
}
async function reportPage() {
  const q = new URLSearchParams(location.search);
  const kind = q.get("kind") || "weekly";
  const r = await api(`/api/v1/reports/${kind}?site=${encodeURIComponent(q.get("site") || "")}&date=${q.get("date") || ""}`);
  $("report-title").textContent = t(kind + "_title") + " · " + r.site;
  $("report-period").textContent = r.start + " → " + r.end_exclusive + " (UTC+7)";
  const tb = $("report-table").querySelector("tbody");
  for (const row of r.rows.concat([r.total])) {
    const tr = document.createElement("tr");
    for (const c of [row.date, row.gate, row.entries, row.exits, row.unique_people, row.unknown, row.anomalies]) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    tb.append(tr);
  }
  for (const [k, n] of Object.entries(r.anomalies_by_kind)) { const li = document.createElement("li"); li.textContent = `${k.replace(/_/g, " ")}: ${n}`; $("report-anomalies").append(li); }
  $("print").onclick = () => window.print();
  translate();
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  const b = $("lang");
  if (b) b.onclick = () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("lang", lang); translate(); if (document.body.dataset.page === "alerts") renderAlerts(); };
  const pages = { login: loginPage, alerts: alertsPage, log: logPage, register: registerPage, stats: statsPage, report: reportPage, admin: adminPage };
  const f = pages[document.body.dataset.page];
  if (f) f().catch((err) => console.error(err));
});
