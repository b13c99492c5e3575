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
  if (me.user.role !== "guard") links.push(["/log", "visitor_log"], ["/register", "register_visitor"]);
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
    if (a.passage_id && a.has_face) crop.src = "/api/v1/faces/crop/" + a.passage_id;
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
    if (row.has_face) { const img = document.createElement("img"); img.loading = "lazy"; img.src = "/api/v1/faces/crop/" + row.id; img.alt = "face"; td.appendChild(img); }
    tr.appendChild(td); tb.appendChild(tr);
  }
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
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  const b = $("lang");
  if (b) b.onclick = () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("lang", lang); translate(); if (document.body.dataset.page === "alerts") renderAlerts(); };
  const pages = { login: loginPage, alerts: alertsPage, log: logPage, register: registerPage };
  const f = pages[document.body.dataset.page];
  if (f) f().catch((err) => console.error(err));
});
