// Depot's resumable uploader, shared by the filedrop page, upload links
// and the web client: a file goes in pieces of 8 MiB, 32 MiB above
// 256 MiB (LiquidFiles semantics: ?chunk=i&chunks=n, retries idempotent),
// a failed piece is retried with backoff, and progress is reported as
// bytes arrive.
"use strict";

window.depotChunked = (function () {
  const CHUNK = 8 * 1024 * 1024;        // bytes per request
  const LARGE_CHUNK = 32 * 1024 * 1024; // … for a file of more than 32 pieces
  const RETRIES = 4;             // extra tries of a failed piece
  const SMALL = 256 * 1024;      // pieces smaller than this report no progress while sent

  // errorOf returns the server's own words from an {"errors":[…]} body.
  function errorOf(status, body) {
    try {
      const j = JSON.parse(body);
      if (j.errors && j.errors.length) return j.errors.join(" ");
    } catch (e) { /* not JSON */ }
    return status ? "The server answered " + status + "." : "The connection failed.";
  }

  function formatSize(n) {
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  // sendPiece sends one piece; it resolves with {status, body}.
  function sendPiece(opts, url, blob, onProgress) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open(opts.method || "POST", url);
      const headers = opts.headers ? opts.headers() : {};
      for (const name in headers) if (headers[name]) xhr.setRequestHeader(name, headers[name]);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      // A small piece is sent at once: following its progress would only
      // cost the page events (a listener makes the browser report them).
      if (blob.size >= SMALL) xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
      xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.responseText }));
      xhr.addEventListener("error", () => resolve({ status: 0, body: "" }));
      xhr.send(blob);
    });
  }

  // pieceSize is the size of a file's pieces: a large file goes in
  // larger ones, as each request costs the browser a pause between pieces
  // (BENCHMARKS.md, issue 45).
  const pieceSize = (size) => size > 32 * CHUNK ? LARGE_CHUNK : CHUNK;

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const retryable = (status) => status === 0 || status === 429 || status >= 500 && status !== 507;

  // send uploads file. opts.url(query) gives the address of a piece from
  // its query ("&chunk=i&chunks=n", or "" for a file in one piece);
  // opts.onProgress(bytesSent) and opts.onRetry() report; opts.parallel
  // pieces travel at once (the server takes them in any order and
  // assembles the file when the last one arrives). It resolves with the
  // parsed JSON of the answer that completed the file (201) and throws an
  // Error in the server's words otherwise.
  async function send(file, opts) {
    const size = file.size;
    const chunk = pieceSize(size);
    const count = Math.max(1, Math.ceil(size / chunk));
    const loaded = new Array(count).fill(0);
    const report = () => opts.onProgress && opts.onProgress(loaded.reduce((a, b) => a + b, 0));
    let next = 0;
    let completed = null;
    let failed = false; // one piece refused: the other lanes stop

    async function piece(i) {
      const blob = file.slice(i * chunk, Math.min(size, (i + 1) * chunk));
      const query = count > 1 ? "&chunk=" + i + "&chunks=" + count : "";
      let res;
      for (let attempt = 0; ; attempt++) {
        res = await sendPiece(opts, opts.url(query), blob, (n) => { loaded[i] = n; report(); });
        if (!retryable(res.status) || attempt === RETRIES) break;
        if (opts.onRetry) opts.onRetry();
        loaded[i] = 0;
        await sleep(500 * 2 ** attempt);
      }
      if (res.status !== 201 && res.status !== 202) {
        const err = new Error(file.name + ": " + errorOf(res.status, res.body));
        err.status = res.status; // a refusal of the file (4xx, 507) or a failure (0, 5xx)
        err.reason = errorOf(res.status, res.body);
        throw err;
      }
      loaded[i] = blob.size;
      report();
      if (res.status === 201) completed = res;
    }

    async function lane() {
      try {
        while (next < count && !failed) await piece(next++);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
    const lanes = [];
    for (let l = 0; l < Math.min(opts.parallel || 1, count); l++) lanes.push(lane());
    await Promise.all(lanes);
    if (!completed) throw new Error(file.name + ": the server did not assemble the file; send it again.");
    return JSON.parse(completed.body);
  }

  return { send, errorOf, formatSize, pieceSize };
})();
