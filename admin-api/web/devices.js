// Devices page (Thiết bị): sites → edge agents → cameras with live status,
// a camera's snapshot on request, and the camera editor where the counting
// line is drawn on the snapshot. Loaded after app.js (T, t, api, nav, $).
"use strict";

Object.assign(T.vi, {
  devices: "Thiết bị", camera_id: "Mã camera", mode: "Chế độ", mode_count: "Đếm và nhận diện", mode_verify: "Xác minh 1:1",
  restricted: "Khu vực hạn chế", stream_url: "Địa chỉ luồng (RTSP)", cancel: "Hủy", remove_camera: "Gỡ camera",
  url_hint: "Mật khẩu camera không bao giờ hiển thị lại (***); để nguyên *** để giữ mật khẩu cũ.",
  counting_line: "Vạch đếm", line_hint: "Chụp ảnh camera, rồi bấm 2 điểm để vẽ vạch đếm và bấm lần thứ 3 vào phía BÊN TRONG khu vực.",
  take_snapshot: "Chụp ảnh camera", redraw_line: "Vẽ lại vạch", online: "Đang hoạt động", offline: "Mất kết nối",
  never_seen: "Chưa từng báo cáo", last_seen: "Báo cáo lần cuối", agent_version: "Phiên bản", uptime: "Thời gian chạy",
  backlog: "Sự kiện chờ gửi", oldest: "cũ nhất", gallery_version: "Phiên bản dữ liệu khuôn mặt",
  config_version: "Cấu hình camera đang chạy", config_central: "cấu hình trung tâm", config_file: "tệp cấu hình tại chỗ",
  config_pending: "đang chờ thiết bị nhận phiên bản", config_refused: "Thiết bị từ chối cấu hình camera mới (vẫn chạy cấu hình cũ)", disk_free: "Dung lượng trống", add_camera: "Thêm camera",
  edit: "Sửa", camera: "Camera", state: "Trạng thái", fps: "Khung hình/giây", dropped: "Khung bị bỏ",
  state_up: "Hoạt động", state_down: "Mất tín hiệu", state_tampered: "Bị che / đóng băng", state_starting: "Đang kết nối",
  state_stopped: "Đã dừng", revoked: "Đã thu hồi", no_devices: "Chưa có thiết bị nào ở các địa điểm của bạn.",
  snapshot_waiting: "Đang chờ ảnh từ thiết bị (đến cùng nhịp báo cáo tiếp theo)…", snapshot_failed: "Thiết bị chưa gửi ảnh; thiết bị có đang hoạt động không?",
  inside: "Bên trong", side_above: "phía trên vạch", side_below: "phía dưới vạch", side_left: "bên trái vạch", side_right: "bên phải vạch",
  line_incomplete: "Hãy vẽ vạch (2 điểm) và chọn phía bên trong (điểm thứ 3).", saved_version: "Đã lưu — phiên bản",
  edit_camera: "Sửa camera", new_camera: "Camera mới", agents_up: "thiết bị hoạt động", cameras_up: "camera hoạt động",
  ago: "trước", seconds: "giây", minutes: "phút", hours: "giờ", days: "ngày", confirm_remove: "Gỡ camera này khỏi thiết bị?",
});
Object.assign(T.en, {
  devices: "Devices", camera_id: "Camera id", mode: "Mode", mode_count: "Count and identify", mode_verify: "1:1 verification",
  restricted: "Restricted area", stream_url: "Stream address (RTSP)", cancel: "Cancel", remove_camera: "Remove camera",
  url_hint: "A camera's password is never shown again (***); leave *** to keep the password held.",
  counting_line: "Counting line", line_hint: "Take a snapshot, then click 2 points to draw the counting line and a 3rd time on the INSIDE of the site.",
  take_snapshot: "Take snapshot", redraw_line: "Redraw line", online: "Online", offline: "Offline",
  never_seen: "Never reported", last_seen: "Last report", agent_version: "Version", uptime: "Uptime",
  backlog: "Events waiting", oldest: "oldest", gallery_version: "Face gallery version",
  config_version: "Camera configuration running", config_central: "central configuration", config_file: "local file",
  config_pending: "waiting for the device to take version", config_refused: "The device refused the new camera configuration (it runs the previous one)", disk_free: "Free disk", add_camera: "Add camera",
  edit: "Edit", camera: "Camera", state: "State", fps: "Frames/s", dropped: "Dropped frames",
  state_up: "Up", state_down: "No signal", state_tampered: "Covered / frozen", state_starting: "Connecting",
  state_stopped: "Stopped", revoked: "Revoked", no_devices: "No devices at your sites yet.",
  snapshot_waiting: "Waiting for the picture (it comes with the device's next report)…", snapshot_failed: "The device sent no picture; is it online?",
  inside: "Inside", side_above: "above the line", side_below: "below the line", side_left: "left of the line", side_right: "right of the line",
  line_incomplete: "Draw the line (2 points) and pick the inside (3rd point).", saved_version: "Saved — version",
  edit_camera: "Edit camera", new_camera: "New camera", agents_up: "devices online", cameras_up: "cameras up",
  ago: "ago", seconds: "s", minutes: "min", hours: "h", days: "d", confirm_remove: "Remove this camera from the device?",
});

const num = (n) => Number(n).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 1 });
function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return num(s) + " " + t("seconds");
  if (s < 7200) return num(Math.round(s / 60)) + " " + t("minutes");
  if (s < 172800) return num(Math.round(s / 3600)) + " " + t("hours");
  return num(Math.round(s / 86400)) + " " + t("days");
}
function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return num(n) + " " + units[i];
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
function badge(state, label) { const b = el("span", "badge " + state, label); b.dataset.state = state; return b; }

let fleetData = null;
async function loadFleet() {
  fleetData = await api("/api/v1/devices");
  const box = $("fleet"); box.innerHTML = "";
  let agents = 0, agentsUp = 0, cams = 0, camsUp = 0;
  if (!fleetData.sites.length) box.append(el("p", "card", t("no_devices")));
  for (const site of fleetData.sites) {
    box.append(el("h2", null, t("site") + ": " + site.site));
    for (const a of site.agents) {
      agents++; if (a.online) agentsUp++;
      const card = el("div", "card fleet-agent"); card.dataset.agent = a.id;
      const h = el("h2", null, a.id);
      h.append(a.revoked ? badge("stopped", t("revoked")) : a.online ? badge("up", t("online")) : badge("down", a.last_seen_ms ? t("offline") : t("never_seen")));
      card.append(h);
      const hb = a.heartbeat;
      const facts = el("div", "facts");
      const fact = (k, v) => facts.append(el("span", null, t(k) + ": " + v));
      fact("last_seen", a.last_seen_ms ? span(fleetData.now_ms - a.last_seen_ms) + " " + t("ago") + " (" + fmtTime(a.last_seen_ms) + ")" : "—");
      if (hb) {
        fact("agent_version", hb.agent_version);
        fact("uptime", span(hb.sent_ms - hb.started_ms));
        fact("backlog", num(hb.outbox_backlog) + (hb.outbox_oldest_ms ? " (" + t("oldest") + " " + span(fleetData.now_ms - hb.outbox_oldest_ms) + ")" : ""));
        fact("gallery_version", num(hb.gallery_version));
        if (hb.disk_free_bytes != null) fact("disk_free", bytes(hb.disk_free_bytes));
        const central = a.config ? a.config.version : 0;
        let cv = hb.config_version ? t("config_central") + " v" + hb.config_version : t("config_file");
        if (central && central !== hb.config_version) cv += " — " + t("config_pending") + " v" + central;
        const c = el("span", null, t("config_version") + ": " + cv); c.id = "config-" + a.id; c.dataset.version = hb.config_version; facts.append(c);
      }
      card.append(facts);
      if (hb && hb.config_error) card.append(el("p", "error", t("config_refused") + ": " + hb.config_error));
      const table = el("table"); const thead = el("thead"); const hr = el("tr");
      for (const k of ["camera", "gate", "state", "fps", "dropped", "counting_line", ""]) hr.append(el("th", null, k ? t(k) : ""));
      thead.append(hr); table.append(thead);
      const tb = el("tbody");
      const cameras = hb ? hb.cameras : [];
      for (const c of cameras) {
        cams++; const up = a.online && c.state === "up"; if (up) camsUp++;
        const tr = el("tr"); tr.dataset.camera = c.spec.id;
        tr.append(el("td", null, c.spec.id), el("td", null, c.spec.gate));
        const st = el("td"); const state = a.online ? c.state : "down";
        st.append(badge(state, t("state_" + state))); if (c.reason) { st.title = c.reason; }
        tr.append(st, el("td", null, num(c.fps)), el("td", null, num(c.dropped_frames)), el("td", null, lineText(c.spec.line)));
        const actions = el("td");
        const edit = el("button", "edit-camera", t("edit")); edit.type = "button";
        // Edit what the admin API holds for it (central set), else what it runs.
        const spec = (a.config && a.config.cameras.find((x) => x.id === c.spec.id)) || c.spec;
        edit.onclick = () => openEditor(a, spec);
        actions.append(edit); tr.append(actions); tb.append(tr);
      }
      table.append(tb);
      const wrap = el("div", "table-wrap"); wrap.append(table); card.append(wrap);
      if (!a.revoked) {
        const add = el("button", "add-camera", t("add_camera")); add.type = "button";
        add.onclick = () => openEditor(a, null); card.append(add);
      }
      box.append(card);
    }
  }
  $("fleet-summary").textContent = `${num(agentsUp)}/${num(agents)} ${t("agents_up")} · ${num(camsUp)}/${num(cams)} ${t("cameras_up")}`;
  $("fleet").dataset.loaded = "true";
}

function lineText(l) {
  if (!l) return "";
  const p = (x) => "(" + x.map((v) => v.toFixed(2)).join(", ") + ")";
  return p(l.a) + " → " + p(l.b) + " · " + t("inside") + ": " + t("side_" + l.inside);
}

// ---- the camera editor
let editing = null; // { agent, base (spec held or null), line: {a, b, inside} }
function openEditor(agent, spec) {
  editing = { agent: agent.id, base: spec, line: spec ? Object.assign({}, spec.line) : { a: null, b: null, inside: null } };
  $("camera-editor").hidden = false;
  $("editor-title").textContent = (spec ? t("edit_camera") + " " + spec.id : t("new_camera")) + " · " + agent.id;
  $("c-id").value = spec ? spec.id : ""; $("c-id").readOnly = !!spec;
  $("c-gate").value = spec ? spec.gate : "";
  $("c-url").value = spec ? spec.url : "rtsp://";
  $("c-mode").value = spec ? spec.mode : "count";
  $("c-restricted").value = spec && spec.restricted ? "true" : "false";
  $("camera-remove").hidden = !spec;
  $("camera-error").textContent = ""; $("camera-ok").textContent = ""; $("snapshot-status").textContent = "";
  $("snapshot").removeAttribute("src");
  drawLine();
  $("camera-editor").scrollIntoView({ block: "start" });
}

function sideOf(line, p) {
  const dx = line.b[0] - line.a[0], dy = line.b[1] - line.a[1];
  if (Math.abs(dx) >= Math.abs(dy)) {
    const y = line.a[1] + (dy * (p[0] - line.a[0])) / (dx || 1e-9);
    return p[1] < y ? "above" : "below";
  }
  const x = line.a[0] + (dx * (p[1] - line.a[1])) / (dy || 1e-9);
  return p[0] < x ? "left" : "right";
}

function drawLine() {
  const svg = $("line-overlay"); svg.innerHTML = "";
  const l = editing && editing.line;
  const dot = (p, fill) => svg.append(svgEl("circle", { cx: p[0], cy: p[1], r: 0.012, fill }));
  if (l && l.a) dot(l.a, "#c53030");
  if (l && l.a && l.b) {
    svg.append(svgEl("line", { x1: l.a[0], y1: l.a[1], x2: l.b[0], y2: l.b[1], stroke: "#c53030", "stroke-width": 0.008 }));
    dot(l.b, "#c53030");
    if (l.inside) {
      // An arrow from the line's middle towards the inside.
      const m = [(l.a[0] + l.b[0]) / 2, (l.a[1] + l.b[1]) / 2];
      const d = { above: [0, -0.12], below: [0, 0.12], left: [-0.12, 0], right: [0.12, 0] }[l.inside];
      svg.append(svgEl("line", { x1: m[0], y1: m[1], x2: m[0] + d[0], y2: m[1] + d[1], stroke: "#0a7a2f", "stroke-width": 0.01 }));
      dot([m[0] + d[0], m[1] + d[1]], "#0a7a2f");
    }
  }
  $("line-text").textContent = l && l.a && l.b && l.inside ? t("counting_line") + ": " + lineText(l) : t("line_incomplete");
}

function overlayClick(e) {
  if (!editing) return;
  const r = $("line-overlay").getBoundingClientRect();
  const p = [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))]
    .map((v) => Math.round(v * 1000) / 1000);
  const l = editing.line;
  if (!l.a || (l.a && l.b && l.inside)) { editing.line = { a: p, b: null, inside: null }; }
  else if (!l.b) { l.b = p; }
  else { l.inside = sideOf(l, p); }
  drawLine();
}

async function takeSnapshot() {
  if (!editing || !editing.base) return;
  const path = `/api/v1/devices/${encodeURIComponent(editing.agent)}/cameras/${encodeURIComponent(editing.base.id)}/snapshot`;
  $("snapshot-status").textContent = t("snapshot_waiting");
  await api(path, { method: "POST" });
  const until = Date.now() + 30000;
  while (Date.now() < until) {
    const r = await fetch(path, { credentials: "same-origin" });
    if (r.ok) {
      $("snapshot").src = URL.createObjectURL(await r.blob());
      $("snapshot").onload = () => { $("snapshot-status").textContent = ""; $("snapshot").dataset.loaded = "true"; };
      return;
    }
    await new Promise((res) => setTimeout(res, 700));
  }
  $("snapshot-status").textContent = t("snapshot_failed");
}

async function saveCamera(e) {
  e.preventDefault();
  $("camera-error").textContent = ""; $("camera-ok").textContent = "";
  const l = editing.line;
  if (!(l.a && l.b && l.inside)) { $("camera-error").textContent = t("line_incomplete"); return; }
  const base = editing.base || {};
  const spec = Object.assign({}, base, {
    id: $("c-id").value.trim(), gate: $("c-gate").value.trim(), url: $("c-url").value.trim(),
    mode: $("c-mode").value, restricted: $("c-restricted").value === "true", line: { a: l.a, b: l.b, inside: l.inside },
  });
  try {
    const set = await api(`/api/v1/devices/${encodeURIComponent(editing.agent)}/cameras/${encodeURIComponent(spec.id)}`,
      { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(spec) });
    $("camera-ok").textContent = t("saved_version") + " " + set.version;
    $("camera-ok").dataset.version = set.version;
    editing.base = set.cameras.find((c) => c.id === spec.id) || spec;
    $("camera-remove").hidden = false; $("c-id").readOnly = true;
    await loadFleet();
  } catch (err) { $("camera-error").textContent = err.message; }
}

async function removeCamera() {
  if (!editing || !editing.base || !confirm(t("confirm_remove"))) return;
  try {
    await api(`/api/v1/devices/${encodeURIComponent(editing.agent)}/cameras/${encodeURIComponent(editing.base.id)}`, { method: "DELETE" });
    $("camera-editor").hidden = true; editing = null; await loadFleet();
  } catch (err) { $("camera-error").textContent = err.message; }
}

async function devicesPage() {
  await nav();
  $("line-overlay").addEventListener("click", overlayClick);
  $("snapshot-button").onclick = () => takeSnapshot().catch((err) => { $("snapshot-status").textContent = err.message; });
  $("line-reset").onclick = () => { if (editing) { editing.line = { a: null, b: null, inside: null }; drawLine(); } };
  $("camera-editor").onsubmit = saveCamera;
  $("camera-cancel").onclick = () => { $("camera-editor").hidden = true; editing = null; };
  $("camera-remove").onclick = removeCamera;
  await loadFleet();
  // Live status: the page follows the heartbeats.
  setInterval(() => loadFleet().catch((err) => { $("fleet-summary").textContent = err.message; }), 3000);
}

window.GW_PAGES = Object.assign(window.GW_PAGES || {}, { devices: devicesPage });
