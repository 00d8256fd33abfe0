// Depot filedrop page: gets an upload key, checks files against the
// filedrop's rules, uploads them in chunks (retrying a failed chunk), shows
// progress per file and in total, then delivers them as one message.
"use strict";

(function () {
  const root = document.getElementById("filedrop");
  // mode "filedrop": an upload key, then a delivery; mode "link": uploads
  // straight into a shared folder, with the link's password if it has one.
  const mode = root.dataset.mode;
  const base = root.dataset.base;
  const maxBytes = Number(root.dataset.maxMb) * 1024 * 1024;
  const extList = (s) => s.split(",").map((e) => e.trim().toLowerCase()).filter(Boolean);
  const accepted = extList(root.dataset.accepted || "");
  const invalid = extList(root.dataset.invalid || "");
  const $ = (id) => document.getElementById(id);

  let key = "";
  let password = "";
  let files = [];   // {file, row, bar, status, id, result}
  let sending = false;

  function showError(msg) {
    const el = $("error");
    el.textContent = msg;
    el.hidden = !msg;
  }

  const { errorOf, formatSize } = window.depotChunked;

  function extension(filename) {
    const dot = filename.lastIndexOf(".");
    return dot > 0 ? filename.slice(dot + 1).toLowerCase() : "";
  }

  // check returns why a file cannot be sent, or "".
  function check(file) {
    const ext = extension(file.name);
    if (invalid.includes(ext)) return "files of type ." + ext + " are not accepted here";
    if (accepted.length && !accepted.includes(ext)) return "only " + accepted.map((e) => "." + e).join(", ") + " files are accepted";
    if (file.size > maxBytes) return "larger than the limit of " + root.dataset.maxMb + " MB";
    if (file.size === 0) return "the file is empty";
    return "";
  }

  function utf8Base64(s) {
    const bytes = new TextEncoder().encode(s);
    let bin = "";
    bytes.forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin);
  }

  async function getKey(password) {
    const headers = { Accept: "application/json" };
    if (password) headers.Authorization = "Basic " + utf8Base64("sender:" + password);
    const res = await fetch(base, { headers, credentials: "omit", cache: "no-store" });
    const body = await res.text();
    if (res.status === 401 && root.dataset.password === "true") {
      $("password-form").hidden = false;
      $("send-form").hidden = true;
      if (password) showError(errorOf(res.status, body));
      return;
    }
    if (!res.ok) { showError(errorOf(res.status, body)); return; }
    const info = JSON.parse(body).filedrop;
    key = info.api_key;
    showError("");
    $("password-form").hidden = true;
    $(info.require_validation ? "validate-form" : "send-form").hidden = false;
  }

  // authorization is the header that carries the upload credential.
  function authorization() {
    if (mode === "link") return password ? "Basic " + utf8Base64("link:" + password) : "";
    return "Bearer " + key;
  }

  async function postJSON(path, payload) {
    const res = await fetch(base + path, {
      method: "POST", credentials: "omit",
      headers: { "Content-Type": "application/json", Authorization: authorization() },
      body: JSON.stringify(payload),
    });
    return { status: res.status, body: await res.text() };
  }

  async function sendCode(ev) {
    ev.preventDefault();
    showError("");
    const res = await postJSON("/validation", { validation: { email: $("v-email").value } });
    if (res.status !== 202) { showError(errorOf(res.status, res.body)); return; }
    $("v-code-row").hidden = false;
    $("v-code").focus();
  }

  async function confirmCode() {
    showError("");
    const email = $("v-email").value;
    const res = await postJSON("/validation", { validation: { email, code: $("v-code").value } });
    if (res.status !== 200) { showError(errorOf(res.status, res.body)); return; }
    $("from").value = JSON.parse(res.body).validation.email;
    $("from").readOnly = true;
    $("validate-form").hidden = true;
    $("send-form").hidden = false;
  }

  function addFiles(list) {
    if (sending) return;
    for (const file of list) {
      if (files.some((f) => f.file.name === file.name)) continue;
      const row = document.createElement("li");
      const label = document.createElement("span");
      label.className = "name";
      label.textContent = file.name + " (" + formatSize(file.size) + ")";
      const bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      const status = document.createElement("span");
      status.className = "status";
      const remove = document.createElement("button");
      remove.type = "button"; remove.className = "remove"; remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove " + file.name);
      const entry = { file, row, bar, status, id: "", sent: 0, result: null };
      remove.addEventListener("click", () => {
        if (sending) return;
        files = files.filter((f) => f !== entry);
        row.remove();
      });
      const problem = check(file);
      if (problem) {
        status.textContent = "Not accepted: " + problem;
        row.classList.add("refused");
        entry.refused = true;
      }
      row.append(label, ...(problem ? [] : [bar]), status, remove); // a refused file gets no progress bar
      $("file-list").append(row);
      files.push(entry);
    }
  }

  function updateTotal() {
    const total = files.reduce((n, f) => n + f.file.size, 0);
    const sent = files.reduce((n, f) => n + f.sent, 0);
    const pct = total ? Math.floor((sent * 100) / total) : 0;
    $("total").hidden = false;
    $("total-progress").value = pct;
    $("total-text").textContent = pct + "%";
  }

  async function upload(entry) {
    const size = entry.file.size;
    const path = base + (mode === "link" ? "/upload" : "/attachments/upload");
    let j;
    try {
      j = await window.depotChunked.send(entry.file, {
        url: (query) => path + "?filename=" + encodeURIComponent(entry.file.name) + query,
        headers: () => ({ Authorization: authorization() }),
        onProgress: (sent) => {
          entry.sent = sent;
          entry.bar.value = Math.floor((sent * 100) / size);
          updateTotal();
        },
        onRetry: () => { entry.status.textContent = "Retrying…"; },
      });
    } catch (e) {
      if (e.status >= 400 && e.status < 500 || e.status === 507) {
        // The server refused this file (malware, a rule, the quota): say
        // so on its row, as for a file refused before sending.
        entry.status.textContent = "Not accepted: " + e.reason;
        entry.row.classList.add("refused");
        entry.bar.remove();
        entry.refused = true;
        throw new Error("Remove the files that are not accepted, then send again.");
      }
      throw e;
    }
    entry.result = j.attachment || { id: j.file.path, filename: j.file.name, size: j.file.size, checksum: j.file.sha256 };
    entry.id = entry.result.id;
    entry.status.textContent = "Uploaded";
  }

  async function send(ev) {
    ev.preventDefault();
    if (sending) return;
    showError("");
    const ok = files.filter((f) => !f.refused);
    if (!ok.length) { showError("Choose at least one file that is accepted here."); return; }
    if (ok.length !== files.length) { showError("Remove the files that are not accepted, then send again."); return; }
    if (!$("send-form").reportValidity()) return;
    sending = true;
    $("send").disabled = true;
    try {
      for (const entry of files) {
        if (!entry.id) await upload(entry);
      }
      if (mode === "link") {
        confirm({ files: files.map((f) => f.result) });
        return;
      }
      const res = await postJSON("", { message: {
        from: $("from").value, subject: $("subject").value, message: $("message").value,
        attachments: files.map((f) => f.id) } });
      if (res.status !== 201) throw new Error(errorOf(res.status, res.body));
      confirm(JSON.parse(res.body).message);
    } catch (e) {
      showError(e.message);
      sending = false;
      $("send").disabled = false;
    }
  }

  function confirm(message) {
    const tbody = $("done-files");
    for (const f of message.files) {
      const tr = document.createElement("tr");
      for (const text of [f.filename, formatSize(f.size), f.checksum]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      tr.lastChild.className = "checksum";
      tbody.append(tr);
    }
    $("send-form").hidden = true;
    $("done").hidden = false;
  }

  $("files").addEventListener("change", (e) => { addFiles(e.target.files); e.target.value = ""; });
  const dz = $("dropzone");
  dz.addEventListener("dragover", (e) => { e.preventDefault(); dz.classList.add("over"); });
  dz.addEventListener("dragleave", () => dz.classList.remove("over"));
  dz.addEventListener("drop", (e) => { e.preventDefault(); dz.classList.remove("over"); addFiles(e.dataTransfer.files); });
  dz.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("files").click(); } });
  $("send-form").addEventListener("submit", send);
  $("password-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if (mode === "link") {
      password = $("password").value;
      $("password-form").hidden = true;
      $("send-form").hidden = false;
      return;
    }
    getKey($("password").value);
  });
  if (mode === "link") {
    $(root.dataset.password === "true" ? "password-form" : "send-form").hidden = false;
    return;
  }
  $("validate-form").addEventListener("submit", (e) => sendCode(e).catch((err) => showError(err.message)));
  $("v-confirm").addEventListener("click", () => confirmCode().catch((err) => showError(err.message)));
  getKey("").catch((e) => showError("Could not reach the server: " + e.message));
})();
