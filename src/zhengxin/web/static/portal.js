// zhengxin portal: draws the charts, checks receipts in the browser, shows upload progress.
// Everything here is an enhancement: every page reads without it.
"use strict";

function drawCharts(root) {
  if (typeof vegaEmbed === "undefined") return;
  root.querySelectorAll("div.chart[data-spec]").forEach((el) => {
    if (el.dataset.drawn) return;
    const source = document.getElementById(el.dataset.spec);
    if (!source) return;
    el.dataset.drawn = "1";
    vegaEmbed(el, JSON.parse(source.textContent), { actions: false, renderer: "svg" })
      .then(() => el.setAttribute("data-rendered", "1"))
      .catch((err) => { el.textContent = String(err); });
  });
}

// --- Receipts: RFC 9162 inclusion proof and the Ed25519 signature on the tree head, with WebCrypto.
const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
async function sha256(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { buf.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}
const leafHash = (leaf) => sha256(new Uint8Array([0]), leaf);
const nodeHash = (l, r) => sha256(new Uint8Array([1]), l, r);

async function rootFromInclusion(index, size, leaf, proof) {
  if (!(index >= 0 && index < size)) throw new Error("leaf index outside the tree");
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error("inclusion proof too long");
    if ((fn & 1) || fn === sn) {
      r = await nodeHash(p, r);
      if (!(fn & 1)) { while (fn && !(fn & 1)) { fn >>= 1; sn >>= 1; } }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1; sn >>= 1;
  }
  if (sn !== 0) throw new Error("inclusion proof too short");
  return r;
}

async function checkReceipt(receipt) {
  const enc = new TextEncoder();
  const head = receipt.sth, proof = receipt.inclusion_proof;
  if (proof.tree_size !== head.tree_size || proof.index !== receipt.leaf_index) throw new Error("proof is for another leaf");
  const h = await leafHash(enc.encode(receipt.leaf));
  if (hex(h) !== proof.leaf_hash) throw new Error("leaf does not match its hash");
  const root = await rootFromInclusion(receipt.leaf_index, head.tree_size, h, proof.audit_path.map(unhex));
  if (hex(root) !== head.root_hash) throw new Error("inclusion proof does not lead to the signed root");
  // The signature covers canonical JSON of the head (keys sorted, no spaces), as the server signs it.
  const message = enc.encode(JSON.stringify({ root_hash: head.root_hash, timestamp: head.timestamp, tree_size: head.tree_size }));
  let signed = null;
  try {
    const key = await crypto.subtle.importKey("raw", unhex(receipt.log_key.public_key), { name: "Ed25519" }, false, ["verify"]);
    signed = await crypto.subtle.verify({ name: "Ed25519" }, key, unhex(head.signature), message);
  } catch (e) {
    signed = null; // this browser has no Ed25519 in WebCrypto
  }
  if (signed === false) throw new Error("the tree head's signature is not the log's");
  return { treeSize: head.tree_size, signed };
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-receipt]");
  if (!button) return;
  event.preventDefault();
  const out = document.getElementById(button.dataset.result);
  out.className = "verify-result";
  out.textContent = button.dataset.checking;
  try {
    const response = await fetch(button.dataset.receipt, { credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const result = await checkReceipt(await response.json());
    out.className = "verify-result ok";
    out.textContent = (result.signed ? button.dataset.ok : button.dataset.okUnsigned).replace("{size}", result.treeSize);
  } catch (e) {
    out.className = "verify-result bad";
    out.textContent = button.dataset.bad + " (" + e.message + ")";
  }
});

// --- Uploads with a progress bar (the form still posts normally without JavaScript).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-progress]")) return;
  const bar = document.getElementById(form.dataset.progress);
  if (!bar || !window.XMLHttpRequest) return;
  event.preventDefault();
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("X-Portal-Upload", "1"); // answered with {location}, not a redirect
  xhr.responseType = "json";
  xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; } });
  xhr.addEventListener("load", () => {
    bar.value = bar.max;
    const next = xhr.response && xhr.response.location;
    window.location.assign(next && next.startsWith("/portal/") ? next : window.location.href);
  });
  bar.hidden = false;
  xhr.send(new FormData(form));
});

document.addEventListener("DOMContentLoaded", () => drawCharts(document));
document.addEventListener("htmx:afterSettle", (e) => drawCharts(e.target));
