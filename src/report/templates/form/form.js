"use strict";
(function () {
  const form = document.getElementById("change");
  const out = document.getElementById("yaml");
  const open = document.getElementById("open");
  // A JSON string is a YAML double-quoted scalar: nothing in it is read as YAML.
  const str = (s) => JSON.stringify(s);
  const key = (k) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? k : str(k));
  function scalar(kind, el) {
    const v = el.value;
    if (v === "") return undefined;
    if (kind === "choice") return { value: JSON.parse(el.dataset.options)[Number(v)] };
    if (kind === "flag") return { value: v === "true" };
    if (kind === "integer") return /^-?[0-9]+$/.test(v.trim()) ? { value: Number(v) } : { bad: "not a whole number" };
    if (kind === "number") return isFinite(Number(v)) && v.trim() !== "" ? { value: Number(v) } : { bad: "not a number" };
    if (kind === "yaml") return { yaml: v.replace(/\r\n/g, "\n").replace(/\s+$/, "") };
    return { value: v };
  }
  function emit(node, indent, lines) {
    for (const [k, v] of node) {
      const pad = " ".repeat(indent);
      if (v instanceof Map) {
        lines.push(pad + key(k) + ":");
        emit(v, indent + 2, lines);
      } else if (v.yaml !== undefined) {
        lines.push(pad + key(k) + ":");
        for (const l of v.yaml.split("\n")) lines.push(pad + "  " + l);
      } else {
        const x = v.value;
        lines.push(pad + key(k) + ": " + (typeof x === "string" ? str(x) : x === null ? "null" : String(x)));
      }
    }
  }
  function update() {
    const root = new Map();
    const params = [];
    for (const el of form.querySelectorAll("[data-path]")) {
      const got = scalar(el.dataset.kind, el);
      if (got === undefined || got.bad) continue;
      const path = JSON.parse(el.dataset.path);
      let at = root;
      for (const k of path.slice(0, -1)) {
        if (!(at.get(k) instanceof Map)) at.set(k, new Map());
        at = at.get(k);
      }
      at.set(path[path.length - 1], got);
      if (el.dataset.kind !== "flag") {
        const text = got.yaml !== undefined ? got.yaml : el.dataset.kind === "choice" ? el.options[el.selectedIndex].text : el.value;
        params.push(encodeURIComponent(el.id) + "=" + encodeURIComponent(text));
      }
    }
    const lines = [];
    emit(root, 0, lines);
    out.textContent = lines.length ? lines.join("\n") + "\n" : "(nothing changes yet)";
    if (open) {
      open.hidden = lines.length === 0;
      open.href = open.getAttribute("href").split("&")[0] + (params.length ? "&" + params.join("&") : "");
    }
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
