// Huren's pages: the little script they need (no inline script anywhere; the CSP allows only this file).
// - the print button of a verification result;
// - the verifier form refuses a file over the page's limit before uploading it (the server refuses it too), and takes
//   a file dropped on it;
// - the citizen page: the holder key (WebCrypto, ECDSA P-256, non-extractable, kept in IndexedDB), to which the
//   presented credential is issued, and the key-binding JWT of the presentation signed with it.
"use strict";

function ready(fn) {
  if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
}

ready(function () {
  const print = document.getElementById("print");
  if (print) print.addEventListener("click", function () { window.print(); });

  const form = document.getElementById("verify-form");
  if (form) {
    const max = parseInt(form.dataset.max, 10);
    const file = document.getElementById("file");
    const warning = document.getElementById("file-too-large");
    form.addEventListener("submit", function (event) {
      if (file.files.length && file.files[0].size > max) {
        event.preventDefault();
        warning.hidden = false;
        file.focus();
      }
    });
    file.addEventListener("change", function () { warning.hidden = true; });
    // a file dropped anywhere on the form is the form's file (the same checks as a picked one); dropped elsewhere on
    // the page, it is ignored rather than opened by the browser in place of the page
    form.addEventListener("dragover", function (event) {
      if (!event.dataTransfer || !event.dataTransfer.types.includes("Files")) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      form.classList.add("dropping");
    });
    form.addEventListener("dragleave", function (event) {
      if (!form.contains(event.relatedTarget)) form.classList.remove("dropping");
    });
    form.addEventListener("drop", function (event) {
      form.classList.remove("dropping");
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      event.preventDefault();
      event.stopPropagation();
      file.files = event.dataTransfer.files;
      file.dispatchEvent(new Event("change"));
    });
    document.addEventListener("dragover", function (event) { event.preventDefault(); });
    document.addEventListener("drop", function (event) { event.preventDefault(); });
  }

  if (document.getElementById("citizen")) citizen();
});

// ---- the citizen's holder key ---------------------------------------------------------------------------------

const DB = "huren-holder";
const STORE = "keys";

function idb() {
  return new Promise(function (resolve, reject) {
    const open = indexedDB.open(DB, 1);
    open.onupgradeneeded = function () { open.result.createObjectStore(STORE); };
    open.onsuccess = function () { resolve(open.result); };
    open.onerror = function () { reject(open.error); };
  });
}

async function storedKey(name) {
  const db = await idb();
  return new Promise(function (resolve, reject) {
    const request = db.transaction(STORE, "readonly").objectStore(STORE).get(name);
    request.onsuccess = function () { resolve(request.result || null); };
    request.onerror = function () { reject(request.error); };
  });
}

async function storeKey(name, pair) {
  const db = await idb();
  return new Promise(function (resolve, reject) {
    const tx = db.transaction(STORE, "readwrite");
    tx.objectStore(STORE).put(pair, name);
    tx.oncomplete = function () { resolve(); };
    tx.onerror = function () { reject(tx.error); };
  });
}

function b64url(bytes) {
  let text = "";
  const view = new Uint8Array(bytes);
  for (let i = 0; i < view.length; i++) text += String.fromCharCode(view[i]);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function b64urlText(text) { return b64url(new TextEncoder().encode(text)); }

async function holderKey(name) {
  let pair = await storedKey(name);
  if (!pair) {
    // extractable: false — the private key never leaves the browser's key store, not even to this script.
    pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    await storeKey(name, pair);
  }
  return pair;
}

async function publicJwk(pair) {
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

async function sha256(text) {
  return b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

async function keyBindingJwt(pair, presentation, audience, nonce) {
  // SD-JWT (RFC 9901) key binding: sd_hash over the issuer JWT and the chosen disclosures, each ending in "~".
  const header = { alg: "ES256", typ: "kb+jwt" };
  const payload = { iat: Math.floor(Date.now() / 1000), aud: audience, nonce: nonce, sd_hash: await sha256(presentation) };
  const input = b64urlText(JSON.stringify(header)) + "." + b64urlText(JSON.stringify(payload));
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey,
                                             new TextEncoder().encode(input));
  return input + "." + b64url(signature);
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Huren-Page": "1" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error((await response.text()).slice(0, 500));
  return response.json();
}

function citizen() {
  const root = document.getElementById("citizen");
  const keyName = "holder:" + root.dataset.holder;
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    document.getElementById("no-webcrypto").hidden = false;
    return;
  }
  document.querySelectorAll("form.present").forEach(function (form) {
    form.hidden = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const box = form.closest(".licence");
      const names = Array.from(form.querySelectorAll("input[name=field]:checked")).map(function (c) { return c.value; });
      try {
        const pair = await holderKey(keyName);
        const made = await postJson(form.dataset.url, { jwk: await publicJwk(pair), fields: names });
        const nonce = b64url(crypto.getRandomValues(new Uint8Array(12)));
        const audience = window.location.origin + "/verify";
        const kb = await keyBindingJwt(pair, made.sd_jwt, audience, nonce);
        const shown = await postJson(form.dataset.qrUrl, { presentation: made.sd_jwt + kb });
        const qr = box.querySelector(".qr");
        qr.querySelector("img").src = shown.qr;
        const link = qr.querySelector("a.present-link");
        link.href = shown.link;
        link.textContent = shown.link.slice(0, 80) + "…";
        qr.dataset.nonce = nonce;
        qr.dataset.audience = audience;
        qr.hidden = false;
        box.querySelector(".problem-inline").hidden = true;
      } catch (error) {
        showError(box, error);
      }
    });
  });
}

function showError(box, error) {
  const note = box.querySelector(".problem-inline");
  note.textContent = String(error.message || error);
  note.hidden = false;
}
