// The upload page: send the file to POST /v1/images, then show the server-rendered
// fragment from GET /ui/images/{id}. No framework and no build step on purpose.
(() => {
  "use strict";

  const form = document.getElementById("upload-form");
  const input = document.getElementById("file");
  const dropzone = document.getElementById("dropzone");
  const fileName = document.getElementById("file-name");
  const button = document.getElementById("upload-button");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const maxBytes = Number(form.dataset.maxBytes);

  function setStatus(message, isError = false) {
    status.textContent = message;
    status.classList.toggle("is-error", isError);
  }

  function showName() {
    const file = input.files[0];
    fileName.textContent = file ? `${file.name} (${file.size.toLocaleString()} bytes)` : "";
  }

  // API errors are {"error": {"code", "message"}}; anything else gets the HTTP status.
  async function errorMessage(response) {
    try {
      const body = await response.json();
      if (body && body.error && body.error.message) return body.error.message;
    } catch (_) { /* not JSON */ }
    return `HTTP ${response.status} ${response.statusText}`;
  }

  function fragmentUrl(id) {
    const url = new URL(form.dataset.fragment.replace("__ID__", encodeURIComponent(id)), location.href);
    url.searchParams.set("sizes", document.getElementById("sizes").value);
    if (document.getElementById("placeholder").checked) url.searchParams.set("placeholder", "1");
    return url;
  }

  async function upload(event) {
    event.preventDefault();
    const file = input.files[0];
    if (!file) { setStatus("Choose an image first.", true); return; }
    if (maxBytes && file.size > maxBytes) {
      setStatus(`The file is over the limit of ${maxBytes.toLocaleString()} bytes.`, true);
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    const headers = {};
    const token = document.getElementById("token");
    if (token && token.value) headers.Authorization = `Bearer ${token.value}`;

    button.disabled = true;
    setStatus("Uploading and converting…");
    try {
      const response = await fetch(form.action, { method: "POST", body, headers });
      if (!response.ok) throw new Error(await errorMessage(response));
      const image = await response.json();
      const fragment = await fetch(fragmentUrl(image.id));
      if (!fragment.ok) throw new Error(await errorMessage(fragment));
      result.innerHTML = await fragment.text();  // rendered and escaped by the server
      result.hidden = false;
      setStatus(`Stored ${image.variants.length} conversions of ${file.name}.`);
    } catch (err) {
      setStatus(`Upload failed: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  async function copy(event) {
    const trigger = event.target.closest("button[data-copy]");
    if (!trigger) return;
    const text = document.getElementById(trigger.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      // Older browsers, or a page not served from a secure context.
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    trigger.textContent = "Copied";
    setTimeout(() => { trigger.textContent = "Copy"; }, 1500);
  }

  form.addEventListener("submit", upload);
  input.addEventListener("change", showName);
  result.addEventListener("click", copy);

  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("is-over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("is-over"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    showName();
    form.requestSubmit();  // dropping is a clear intent: upload at once
  });
})();
