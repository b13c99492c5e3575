// gatewatch web UI: the People page (Người đăng ký) — search and filter the
// enrolled people — and one person's page: photos, record, consent,
// validity, recent passages, edits, more photos, the data-subject export,
// consent withdrawn and deletion. Loaded after app.js, whose helpers it uses
// (T, t, lang, $, api, nav, fmtTime, translate); its pages are registered in
// window.GW_PAGES, which app.js dispatches on like its own. Everything else
// is kept inside one function, so no name here meets one of app.js's.
"use strict";

(() => {
  Object.assign(T.vi, {
    people_search: "Tìm theo họ tên hoặc số CCCD", category: "Phân loại", status: "Trạng thái", all: "Tất cả",
    cat_staff: "Cán bộ, nhân viên", cat_resident: "Cư dân", cat_visitor: "Khách", cat_watchlist: "Danh sách theo dõi",
    status_valid: "Còn hiệu lực", status_expired: "Hết hiệu lực", status_pending: "Chưa đến ngày hiệu lực",
    search: "Tìm kiếm", people_found: "người", no_people: "Không có ai phù hợp với điều kiện tìm kiếm.",
    allowed_sites: "Địa điểm được vào", all_sites: "Mọi địa điểm", photos: "Ảnh khuôn mặt", photo_count: "Số ảnh",
    valid_from: "Hiệu lực từ", no_end: "Không thời hạn", back_to_people: "← Danh sách người đăng ký",
    record: "Thông tin cá nhân", consent_record: "Ghi nhận sự đồng ý", consent_by: "Người đồng ý",
    consent_at: "Thời điểm đồng ý", consent_purpose: "Mục đích xử lý", no_consent: "Chưa ghi nhận sự đồng ý",
    updated: "Cập nhật lần cuối", edit_person: "Sửa thông tin", no_changes: "Không có gì thay đổi",
    add_photos: "Thêm ảnh khuôn mặt", add_photos_hint: "Mỗi ảnh (JPEG hoặc PNG) phải thấy rõ đúng một khuôn mặt.",
    upload: "Tải lên", photos_added: "Đã thêm ảnh", uploading: "Đang xử lý ảnh…", no_photos: "Chưa có ảnh.",
    recent_passages: "Lượt qua cổng gần đây (50 lượt mới nhất)", no_passages: "Chưa có lượt qua cổng nào.",
    show_face: "Xem ảnh", data_rights: "Quyền của chủ thể dữ liệu",
    data_rights_hint: "Theo Luật Bảo vệ dữ liệu cá nhân (Luật số 91/2025/QH15): xuất toàn bộ dữ liệu đang lưu về người này, hoặc xoá khi người này rút lại sự đồng ý. Mọi thao tác đều được ghi nhật ký.",
    export_data: "Xuất dữ liệu (JSON)", withdraw_consent: "Rút lại sự đồng ý", delete_person: "Xoá người này",
    confirm_withdraw: "{name} rút lại sự đồng ý: xoá toàn bộ thông tin, ảnh và dữ liệu khuôn mặt của người này? Không thể hoàn tác.",
    confirm_delete: "Xoá {name} cùng toàn bộ ảnh và dữ liệu khuôn mặt? Không thể hoàn tác.",
    person_not_found: "Không tìm thấy người này (có thể đã bị xoá hoặc không thuộc địa điểm của bạn).",
    loading: "Đang tải…",
  });
  Object.assign(T.en, {
    people_search: "Search by name or CCCD number", category: "Category", status: "Status", all: "All",
    cat_staff: "Staff", cat_resident: "Resident", cat_visitor: "Visitor", cat_watchlist: "Watchlist",
    status_valid: "Valid", status_expired: "Expired", status_pending: "Not yet valid",
    search: "Search", people_found: "people", no_people: "Nobody matches these filters.",
    allowed_sites: "Allowed sites", all_sites: "Every site", photos: "Face photos", photo_count: "Photos",
    valid_from: "Valid from", no_end: "No end date", back_to_people: "← People",
    record: "Personal details", consent_record: "Consent record", consent_by: "Consent given by",
    consent_at: "Consent recorded", consent_purpose: "Purpose", no_consent: "No consent recorded",
    updated: "Last updated", edit_person: "Edit details", no_changes: "Nothing changed",
    add_photos: "Add face photos", add_photos_hint: "Each photo (JPEG or PNG) must clearly show exactly one face.",
    upload: "Upload", photos_added: "Photos added", uploading: "Processing photos…", no_photos: "No photos yet.",
    recent_passages: "Recent passages (newest 50)", no_passages: "No passages yet.",
    show_face: "Show face", data_rights: "Data subject rights",
    data_rights_hint: "Under the Personal Data Protection Law (No. 91/2025/QH15): export everything held about this person, or delete them when they withdraw consent. Every action is audited.",
    export_data: "Export data (JSON)", withdraw_consent: "Withdraw consent", delete_person: "Delete this person",
    confirm_withdraw: "{name} withdraws consent: delete all their details, photos and face data? This cannot be undone.",
    confirm_delete: "Delete {name} with all photos and face data? This cannot be undone.",
    person_not_found: "This person was not found (deleted, or not enrolled at your sites).",
    loading: "Loading…",
  });

  /// A date (unix ms) as the day in the sites' zone: 22/11/2026.
  function fmtDate(ms) {
    const p = localParts(ms);
    return p.day ? `${p.day}/${p.month}/${p.year}` : "";
  }
  /// `YYYY-MM-DD` as 22/11/2026.
  function fmtIsoDate(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return m ? `${m[3]}/${m[2]}/${m[1]}` : "";
  }
  /// Unix seconds → the value of a datetime-local input, in the sites' zone.
  function toLocalInput(s) {
    return s == null ? "" : localInput(s * 1000);
  }
  /// A datetime-local value in the sites' zone → unix seconds (null when empty).
  function secondsOfInput(v) {
    return v ? Math.floor(fromLocalInput(v) / 1000) : null;
  }
  function validity(p) {
    const now = Date.now() / 1000;
    if (p.valid_until != null && p.valid_until <= now) return "expired";
    if (p.valid_from != null && p.valid_from > now) return "pending";
    return "valid";
  }
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text != null) e.textContent = text;
    return e;
  }
  /// A label element kept translated by translate() (language switch).
  function label(tag, key, className) {
    const e = el(tag, className, t(key));
    e.dataset.t = key;
    return e;
  }
  function facts(dl, rows) {
    dl.innerHTML = "";
    for (const [key, value] of rows) {
      dl.append(label("dt", key), el("dd", null, value == null || value === "" ? "—" : value));
    }
  }
  /// Re-render `f` after the language switch (app.js's own handler runs first).
  function onLanguage(f) {
    // app.js redraws the page it is told of, where it has that hook.
    if (typeof rerender !== "undefined") { rerender = f; return; }
    const b = $("lang");
    if (b) b.addEventListener("click", () => f());
  }
  /// A message by dictionary key, kept translated (`null`: none).
  function say(box, key) {
    box.textContent = key ? t(key) : "";
    if (key) box.dataset.t = key; else delete box.dataset.t;
  }
  /// A failed call: app.js's translated sentence where it has one, else the server's words.
  function failed(box, err) {
    delete box.dataset.t;
    if (typeof showError === "function" && err && err.status != null) showError(box, err);
    else box.textContent = err.message;
  }
  function fillSites(list, sites) {
    list.innerHTML = "";
    for (const s of sites) { const o = document.createElement("option"); o.value = s; list.append(o); }
  }

  // ---- the list
  let peopleRows = [];
  function renderPeople() {
    const tb = $("people-table").querySelector("tbody");
    tb.innerHTML = "";
    for (const p of peopleRows) {
      const tr = document.createElement("tr");
      const href = "/people/" + encodeURIComponent(p.id);
      const name = el("td"); const a = el("a", null, p.name); a.href = href; name.append(a);
      const status = validity(p);
      const st = el("td"); st.append(label("span", "status_" + status, "pill " + status));
      tr.append(name, label("td", "cat_" + p.category), el("td", "wide-only", p.cccd || "—"),
        el("td", null, p.sites.length ? p.sites.join(", ") : t("all_sites")),
        el("td", null, p.valid_until != null ? fmtDate(p.valid_until * 1000) : t("no_end")), st,
        el("td", "mid-hide num", p.photos));
      tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") location.href = href; });
      tb.append(tr);
    }
    $("people-count").textContent = peopleRows.length + " " + t("people_found");
    $("people-empty").hidden = peopleRows.length > 0;
  }
  async function loadPeople() {
    say($("people-error"), null);
    const q = new URLSearchParams();
    for (const k of ["q", "category", "site", "status"]) { const v = $("p-" + k).value.trim(); if (v) q.set(k, v); }
    // The filters stay in the address: back from a person returns to the same list.
    history.replaceState(null, "", "/people" + (q.toString() ? "?" + q : ""));
    try {
      peopleRows = await api("/api/v1/people?" + q.toString());
      renderPeople();
    } catch (err) { failed($("people-error"), err); }
  }
  async function peoplePage() {
    const me = await nav();
    fillSites($("site-list"), me.sites || []);
    const from = new URLSearchParams(location.search);
    for (const k of ["q", "category", "site", "status"]) if (from.get(k)) $("p-" + k).value = from.get(k);
    $("people-filter").addEventListener("submit", (e) => { e.preventDefault(); loadPeople(); });
    for (const k of ["category", "status"]) $("p-" + k).addEventListener("change", loadPeople);
    onLanguage(renderPeople);
    await loadPeople();
  }

  // ---- one person
  let person = null;
  function personId() {
    const fromQuery = new URLSearchParams(location.search).get("id");
    return fromQuery || decodeURIComponent(location.pathname.split("/")[2] || "");
  }
  function renderPerson() {
    const p = person;
    document.title = "gatewatch · " + p.name;
    $("person-name").textContent = p.name;
    const head = $("person-pills"); head.innerHTML = "";
    const status = validity(p);
    head.append(label("span", "cat_" + p.category, "pill " + p.category), label("span", "status_" + status, "pill " + status));
    facts($("person-record"), [
      ["category", t("cat_" + p.category)], ["CCCD", p.cccd], ["birth_date", fmtIsoDate(p.birth_date)],
      ["host", p.host], ["allowed_sites", p.sites.length ? p.sites.join(", ") : t("all_sites")],
      ["valid_from", p.valid_from != null ? fmtTime(p.valid_from * 1000) : null],
      ["valid_until", p.valid_until != null ? fmtTime(p.valid_until * 1000) : t("no_end")],
      ["updated", fmtTime(p.updated_ms)],
    ]);
    if (p.consent_by || p.consent_purpose) {
      facts($("person-consent"), [["consent_by", p.consent_by], ["consent_purpose", p.consent_purpose],
        ["consent_at", p.consent_at_ms != null ? fmtTime(p.consent_at_ms) : null]]);
    } else {
      $("person-consent").innerHTML = "";
      $("person-consent").append(label("dd", "no_consent", "status"));
    }
    const photos = $("person-photos"); photos.innerHTML = "";
    for (const id of p.photos) {
      const img = el("img"); img.alt = p.name; img.loading = "lazy";
      img.src = "/api/v1/people/" + encodeURIComponent(p.id) + "/photos/" + encodeURIComponent(id);
      photos.append(img);
    }
    if (!p.photos.length) photos.append(label("p", "no_photos", "status"));
    const tb = $("passages-table").querySelector("tbody"); tb.innerHTML = "";
    for (const row of p.passages) {
      const tr = document.createElement("tr");
      const face = el("td", "passage-face");
      if (row.has_face) {
        // A face is fetched (and audited) only when asked for.
        const b = label("button", "show_face", "secondary small"); b.type = "button";
        b.addEventListener("click", () => {
          const img = el("img"); img.alt = p.name; img.src = "/api/v1/faces/crop/" + encodeURIComponent(row.id);
          face.replaceChildren(img);
        });
        face.append(b);
      }
      tr.append(el("td", null, fmtTime(row.at_ms)), el("td", null, row.site), el("td", null, row.camera),
        row.direction ? label("td", row.direction) : el("td", null, "—"), face);
      tb.append(tr);
    }
    $("passages-empty").hidden = p.passages.length > 0;
  }
  function fillEditForm() {
    const p = person;
    $("e-name").value = p.name; $("e-category").value = p.category; $("e-cccd").value = p.cccd || "";
    $("e-birth").value = p.birth_date || ""; $("e-host").value = p.host || ""; $("e-sites").value = p.sites.join(", ");
    $("e-from").value = toLocalInput(p.valid_from); $("e-until").value = toLocalInput(p.valid_until);
    $("e-consent-by").value = p.consent_by || ""; $("e-consent-purpose").value = p.consent_purpose || "";
  }
  async function loadPerson() {
    person = await api("/api/v1/people/" + encodeURIComponent(personId()));
    renderPerson();
    fillEditForm();
    $("export-link").href = "/api/v1/people/" + encodeURIComponent(person.id) + "/export";
    $("person-loading").hidden = true;
    $("person-main").hidden = false;
  }
  async function personPage() {
    const me = await nav();
    fillSites($("site-list"), me.sites || []);
    try {
      await loadPerson();
    } catch (err) {
      $("person-loading").hidden = true;
      const missing = err.status === 404 || err.status === 400 || /no enrolled person|not a person id/.test(err.message);
      $("person-error").textContent = missing ? t("person_not_found") : err.message;
      return;
    }
    onLanguage(renderPerson);
    const path = () => "/api/v1/people/" + encodeURIComponent(person.id);
    const text = (id) => $(id).value.trim() || null;
    $("edit-form").addEventListener("submit", async (e) => {
      e.preventDefault(); say($("e-error"), null); say($("e-ok"), null);
      const body = {
        name: $("e-name").value, category: $("e-category").value, cccd: text("e-cccd"), birth_date: text("e-birth"),
        host: text("e-host"), sites: $("e-sites").value.split(",").map((s) => s.trim()).filter(Boolean),
        valid_from: secondsOfInput($("e-from").value), valid_until: secondsOfInput($("e-until").value),
        consent_by: text("e-consent-by"), consent_purpose: text("e-consent-purpose"),
      };
      try {
        const r = await api(path(), { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
        await loadPerson();
        say($("e-ok"), r.changed.length ? "saved" : "no_changes");
      } catch (err) { failed($("e-error"), err); }
    });
    $("photo-form").addEventListener("submit", async (e) => {
      e.preventDefault(); say($("photo-error"), null); say($("photo-ok"), "uploading");
      const fd = new FormData();
      for (const f of $("add-photo").files) fd.append("photo", f, f.name);
      try {
        await api(path() + "/photos", { method: "POST", body: fd });
        $("add-photo").value = "";
        await loadPerson();
        say($("photo-ok"), "photos_added");
      } catch (err) { say($("photo-ok"), null); failed($("photo-error"), err); }
    });
    const remove = async (confirmKey, method, suffix) => {
      say($("action-error"), null);
      if (!confirm(t(confirmKey).replace("{name}", person.name))) return;
      try {
        await api(path() + suffix, { method });
        location.href = "/people";
      } catch (err) { failed($("action-error"), err); }
    };
    $("withdraw").addEventListener("click", () => remove("confirm_withdraw", "POST", "/withdraw-consent"));
    $("delete").addEventListener("click", () => remove("confirm_delete", "DELETE", ""));
  }

  // Both pages are for admins and superadmins (as their API is).
  peoplePage.role = "admin";
  personPage.role = "admin";
  window.GW_PAGES = Object.assign(window.GW_PAGES || {}, { people: peoplePage, person: personPage });
})();
