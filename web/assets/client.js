// Depot web client: uploads (files, whole folders, drag and drop) through
// the shared resumable uploader, select-all for zip downloads, and copying
// a shared link. Every request repeats the page's CSRF token.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";

  const all = $("select-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll('#listing input[type="checkbox"]').forEach((b) => { b.checked = all.checked; });
    });
  }

  document.querySelectorAll("[data-copy]").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const field = $(btn.dataset.copy);
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
        btn.textContent = "Copied";
      } catch (e) {
        btn.textContent = "Press Ctrl+C to copy";
      }
    });
  });

  const box = $("uploader");
  if (!box) return;
  const dir = box.dataset.path === "/" ? "" : box.dataset.path;
  const maxBytes = Number(box.dataset.max) || 0;
  const PARALLEL = 6; // files sent at once (a browser opens six connections to a server)
  const { errorOf, formatSize } = window.depotChunked;
  let queue = [];     // {file, rel, row, bar, status, sent}
  let running = 0;
  let failed = 0;
  const made = new Set(); // folders already created

  function showError(msg) {
    $("upload-error").textContent = msg;
    $("upload-error").hidden = !msg;
  }

  function updateTotal() {
    const total = queue.reduce((n, e) => n + e.file.size, 0);
    const sent = queue.reduce((n, e) => n + e.sent, 0);
    const pct = total ? Math.floor((sent * 100) / total) : 100;
    $("upload-total").hidden = false;
    $("upload-progress").value = pct;
    $("upload-text").textContent = pct + "% of " + formatSize(total);
  }

  async function api(method, path, body) {
    const res = await fetch(path, { method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.text() };
  }

  // ensureFolders creates the folders a file of an uploaded folder needs.
  async function ensureFolders(rel) {
    const parts = rel.split("/").slice(0, -1);
    let p = dir;
    for (const part of parts) {
      p += "/" + part;
      if (made.has(p)) continue;
      const res = await api("POST", "/api/folders", { folder: { path: p } });
      if (res.status !== 201 && res.status !== 409) throw new Error(p + ": " + errorOf(res.status, res.body));
      made.add(p);
    }
  }

  async function send(entry) {
    try {
      if (maxBytes && entry.file.size > maxBytes) throw new Error(entry.rel + ": larger than your limit of " + formatSize(maxBytes));
      await ensureFolders(entry.rel);
      const target = "/api/files/content?path=" + encodeURIComponent(dir + "/" + entry.rel);
      await window.depotChunked.send(entry.file, {
        method: "PUT",
        parallel: 4,
        url: (query) => target + query,
        headers: () => ({ "X-CSRF-Token": csrf }),
        onProgress: (sent) => {
          entry.sent = sent;
          entry.bar.value = entry.file.size ? Math.floor((sent * 100) / entry.file.size) : 100;
          updateTotal();
        },
        onRetry: () => { entry.status.textContent = "Retrying…"; },
      });
      entry.sent = entry.file.size;
      entry.bar.value = 100;
      entry.status.textContent = "Uploaded";
      entry.row.classList.add("done");
    } catch (e) {
      failed++;
      entry.status.textContent = e.message;
      entry.row.classList.add("refused");
      showError("Some files were not uploaded; see the list.");
    }
    updateTotal();
  }

  function pump() {
    while (running < PARALLEL) {
      const next = queue.find((e) => !e.started);
      if (!next) break;
      next.started = true;
      running++;
      send(next).finally(() => { running--; pump(); finished(); });
    }
  }

  function finished() {
    if (running || queue.some((e) => !e.started)) return;
    box.dataset.state = failed ? "failed" : "done";
    if (!failed) setTimeout(() => location.reload(), 300); // show the new listing
  }

  function add(file, rel) {
    const row = document.createElement("li");
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = rel + " (" + formatSize(file.size) + ")";
    const bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", "Progress of " + rel);
    const status = document.createElement("span");
    status.className = "status";
    row.append(label, bar, status);
    $("upload-list").append(row);
    queue.push({ file, rel, row, bar, status, sent: 0 });
  }

  function addList(list) {
    showError("");
    box.dataset.state = "sending";
    for (const file of list) add(file, file.webkitRelativePath || file.name);
    updateTotal();
    pump();
  }

  // walk reads a dropped folder's files with their paths.
  function walk(entry, prefix, out) {
    return new Promise((resolve) => {
      if (entry.isFile) {
        entry.file((f) => { out.push({ file: f, rel: prefix + f.name }); resolve(); }, () => resolve());
        return;
      }
      const reader = entry.createReader();
      const read = () => reader.readEntries(async (entries) => {
        if (!entries.length) { resolve(); return; }
        for (const e of entries) await walk(e, prefix + entry.name + "/", out);
        read();
      }, () => resolve());
      read();
    });
  }

  $("upload-files").addEventListener("change", (e) => { addList([...e.target.files]); e.target.value = ""; });
  $("upload-folder").addEventListener("change", (e) => { addList([...e.target.files]); e.target.value = ""; });
  const dz = $("dropzone");
  dz.addEventListener("dragover", (e) => { e.preventDefault(); dz.classList.add("over"); });
  dz.addEventListener("dragleave", () => dz.classList.remove("over"));
  dz.addEventListener("drop", async (e) => {
    e.preventDefault();
    dz.classList.remove("over");
    const items = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    if (!items.length) { addList([...e.dataTransfer.files]); return; }
    const out = [];
    for (const item of items) await walk(item, "", out);
    showError("");
    box.dataset.state = "sending";
    for (const f of out) add(f.file, f.rel);
    updateTotal();
    pump();
  });
  dz.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("upload-files").click(); } });
})();
