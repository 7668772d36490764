// The upload page: send the file to POST /v1/images, then show the server-rendered
// fragment from GET /ui/images/{id}; in it, a click on the preview (or the x, y form)
// sets the focal point with PATCH /v1/images/{id}. No framework and no build step on
// purpose.
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
    const headers = authHeaders();

    button.disabled = true;
    setStatus("Uploading and converting…");
    try {
      const response = await fetch(form.action, { method: "POST", body, headers });
      if (!response.ok) throw new Error(await errorMessage(response));
      const image = await response.json();
      await showImage(image.id);
      setStatus(`Stored ${image.variants.length} conversions of ${file.name}.`);
      loadLibrary(true);
    } catch (err) {
      setStatus(`Upload failed: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
  }

  // The detail of one stored image: the server-rendered fragment, and which srcset
  // candidate the browser actually loaded at this window size (updated as it loads
  // another one when the window changes).
  async function showImage(id) {
    const fragment = await fetch(fragmentUrl(id), { cache: "no-store" });
    if (!fragment.ok) throw new Error(await errorMessage(fragment));
    result.innerHTML = await fragment.text();  // rendered and escaped by the server
    result.hidden = false;
    const img = result.querySelector(".preview img");
    const current = document.getElementById("current-src");
    const update = () => { if (img.currentSrc) current.textContent = img.currentSrc; };
    img.addEventListener("load", update);
    if (img.complete) update();
  }

  // The focus picker. The fraction is of the image as displayed, which is the whole
  // upright image at its own aspect ratio (the preview is never cropped).
  const round = (v) => Number(Math.min(1, Math.max(0, v)).toFixed(4));

  function pickFocus(event) {
    const img = event.target.closest(".focus-frame img");
    if (!img || img.closest("[aria-busy='true']")) return;
    const box = img.getBoundingClientRect();
    const x = round((event.clientX - box.left) / box.width);
    const y = round((event.clientY - box.top) / box.height);
    let marker = result.querySelector(".focus-marker");
    if (!marker) {  // a set stored before focal points: none yet
      marker = document.createElement("span");
      marker.className = "focus-marker";
      marker.setAttribute("aria-hidden", "true");
      marker.dataset.stored = "display:none";
      img.after(marker);
    }
    // Shown at once; the answer re-renders it (or an error puts it back).
    marker.dataset.stored ??= marker.getAttribute("style");
    marker.style.left = `${x * 100}%`;
    marker.style.top = `${y * 100}%`;
    marker.classList.add("is-pending");
    setFocus(`${x},${y}`);
  }

  function submitFocus(event) {
    if (!event.target.matches("#focus-form")) return;
    event.preventDefault();
    const [x, y] = ["focus-x", "focus-y"].map((id) => document.getElementById(id).valueAsNumber);
    if (![x, y].every((v) => v >= 0 && v <= 1)) {  // NaN too: empty or not a number
      setStatus("The focus takes x and y between 0 and 1.", true);
      return;
    }
    setFocus(`${round(x)},${round(y)}`);
  }

  function resetFocus(event) {
    if (event.target.closest("#focus-reset")) setFocus(null);
  }

  function focusText(focus) {
    if (!focus) return "no focus";
    const x = round(focus.x + (focus.w || 0) / 2);
    const y = round(focus.y + (focus.h || 0) / 2);
    return `${x}, ${y} (${focus.source})`;
  }

  // PATCH the focus (null: back to the detected one), then show the answer: the
  // fragment again, with the crops the server rewrote around the new point.
  async function setFocus(value) {
    const section = result.querySelector("[data-media-id]");
    if (!section || section.getAttribute("aria-busy") === "true") return;  // one at a time
    const url = new URL(section.dataset.image, location.href);
    section.setAttribute("aria-busy", "true");
    setStatus("Setting the focus and rewriting the crops…");
    let image = null;
    try {
      const response = await fetch(url, {
        method: "PATCH",
        headers: { ...authHeaders(), "Content-Type": "application/json" },
        body: JSON.stringify({ focus: value }),
      });
      if (!response.ok) throw new Error(await errorMessage(response));
      image = await response.json();
      await showImage(image.id);
      const crops = Object.keys(image.crops || {}).length;
      const rewritten = crops ? `; ${crops} crop${crops === 1 ? "" : "s"} rewritten` : "";
      setStatus(`Focus ${focusText(image.focus)}${rewritten}.`);
    } catch (err) {
      const what = image
        ? "The focus was saved, but the page could not show it"
        : "The focus was not saved";
      setStatus(`${what}: ${err.message}`, true);
      section.removeAttribute("aria-busy");
      const marker = result.querySelector(".focus-marker.is-pending");
      if (marker) {  // back where the stored focus is
        marker.setAttribute("style", marker.dataset.stored);
        marker.classList.remove("is-pending");
      }
    }
  }

  function authHeaders() {
    const token = document.getElementById("token");
    return token && token.value ? { Authorization: `Bearer ${token.value}` } : {};
  }

  // The library: thumbnails (each image's smallest conversion), a page at a time.
  const library = document.getElementById("library");
  const grid = document.getElementById("library-grid");
  const more = document.getElementById("library-more");
  let cursor = null;

  function thumbnail(image) {
    const smallest = [...image.variants]
      .filter((v) => v.format === "webp")
      .sort((a, b) => a.width - b.width)[0];
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.dataset.mediaId = image.id;
    button.title = image.original.key;
    const img = document.createElement("img");
    img.src = smallest.url;
    img.width = smallest.width;
    img.height = smallest.height;
    img.alt = "";
    img.loading = "lazy";
    button.appendChild(img);
    return button;
  }

  async function loadLibrary(reset) {
    if (reset) { grid.replaceChildren(); cursor = null; }
    const url = new URL(library.dataset.list, location.href);
    url.searchParams.set("limit", "24");
    if (cursor) url.searchParams.set("cursor", cursor);
    try {
      const response = await fetch(url);
      if (!response.ok) throw new Error(await errorMessage(response));
      const page = await response.json();
      for (const image of page.images) grid.appendChild(thumbnail(image));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      document.getElementById("library-empty").hidden = grid.children.length > 0;
    } catch (err) {
      setStatus(`The library could not be loaded: ${err.message}`, true);
    }
  }

  async function openThumb(event) {
    const thumb = event.target.closest("button.thumb");
    if (!thumb) return;
    try {
      await showImage(thumb.dataset.mediaId);
      result.scrollIntoView({ block: "start" });
    } catch (err) {
      setStatus(`The image could not be shown: ${err.message}`, true);
    }
  }

  // Two clicks: the first asks, the second deletes (an editor's image is not one
  // stray click away from gone).
  async function remove(event) {
    const trigger = event.target.closest("button[data-delete]");
    if (!trigger) return;
    if (trigger.dataset.armed !== "1") {
      trigger.dataset.armed = "1";
      trigger.textContent = "Click again to delete";
      return;
    }
    const id = trigger.dataset.delete;
    const url = new URL(library.dataset.delete.replace("__ID__", encodeURIComponent(id)), location.href);
    const response = await fetch(url, { method: "DELETE", headers: authHeaders() });
    if (!response.ok) {
      setStatus(`Delete failed: ${await errorMessage(response)}`, true);
      return;
    }
    result.hidden = true;
    result.replaceChildren();
    setStatus(`Deleted ${id}.`);
    loadLibrary(true);
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
  result.addEventListener("click", remove);
  result.addEventListener("click", pickFocus);
  result.addEventListener("click", resetFocus);
  result.addEventListener("submit", submitFocus);
  grid.addEventListener("click", openThumb);
  more.addEventListener("click", () => loadLibrary(false));
  loadLibrary(true);

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
