// The devices page's live updates, served at /ui/devices.js (a static file: the CSP allows no inline script).
// It listens on /api/v1/events, a stream the server pushes to (nothing is asked while nothing runs), and on
// each run, cell, progress or chunks event — when claims come and go — and each worker event (a remote
// kernel joined, was lost, revoked or left) fetches the page again, at most every
// 300 ms, and swaps its [data-devices] part for the server's fresh one, parsed inert by DOMParser.
"use strict";

const REFRESH_MS = 300;

function followDevices() {
  const status = document.querySelector("[data-devices-status]");
  let timer;
  let fetching = false;
  const refresh = async () => {
    timer = undefined;
    if (fetching) return void (timer = setTimeout(refresh, REFRESH_MS));
    fetching = true;
    try {
      const res = await fetch(location.href, { headers: { accept: "text/html" } });
      if (!res.ok) return;
      const page = new DOMParser().parseFromString(await res.text(), "text/html");
      const fresh = page.querySelector("[data-devices]");
      const old = document.querySelector("[data-devices]");
      if (fresh && old) old.replaceWith(document.adoptNode(fresh));
      if (status) status.textContent = `live · updated ${new Date().toISOString().slice(11, 19)} UTC`;
    } finally {
      fetching = false;
    }
  };
  const soon = () => void (timer ??= setTimeout(refresh, REFRESH_MS));
  const source = new EventSource("/api/v1/events");
  for (const type of ["run", "cell", "progress", "chunks", "worker"]) source.addEventListener(type, soon);
  source.addEventListener("open", () => status && (status.textContent = "live"));
}

function startDevices() {
  if (document.querySelector("[data-devices]")) followDevices();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startDevices);
else startDevices();
