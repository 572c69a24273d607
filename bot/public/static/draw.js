// A draw's checks, in the visitor's browser: the record is downloaded and every
// hash recomputed with Web Crypto's SHA-256, exactly as bot/lib/sortition does
// (encoding.py: canonical JSON; checks.py and drawing.py: the draw and reserves).
// No framework, nothing from elsewhere; the sentences come from the page.
"use strict";

(function () {
  const SEALED = "assembly-organiser/sortition-record/2";
  const COMMITTED = [
    "format", "code_version", "categories", "entrants_hash", "excluded", "quotas", "k", "m",
    "panels_hash", "compositions_hash", "seed_source", "replacement", "summary",
  ];
  const VACANCIES = ["declined", "expired", "vacated"];
  const encoder = new TextEncoder();
  let downloaded = {}; // the public record this page downloaded and checked

  // Python's sort_keys orders by code point; JavaScript's sort by UTF-16 unit.
  function byCodePoint(a, b) {
    const x = Array.from(a);
    const y = Array.from(b);
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const d = x[i].codePointAt(0) - y[i].codePointAt(0);
      if (d !== 0) return d;
    }
    return x.length - y.length;
  }

  // json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
  function canonical(value) {
    if (value === null) return "null";
    if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
    switch (typeof value) {
      case "object":
        return "{" + Object.keys(value).sort(byCodePoint)
          .map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
      case "number":
        if (!Number.isSafeInteger(value)) throw new Error("not a whole number: " + value);
        return String(value);
      case "string":
      case "boolean":
        return JSON.stringify(value);
      default:
        throw new Error("not JSON");
    }
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function bytesOfHex(text) {
    if (!/^([0-9a-f]{2})*$/i.test(text)) throw new Error("not hex");
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(i * 2, 2), 16);
    return out;
  }

  function join(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }

  async function sha256(bytes) {
    return hex(await crypto.subtle.digest("SHA-256", bytes));
  }

  async function H(value) {
    try {
      return await sha256(encoder.encode(canonical(value)));
    } catch (error) {
      return "";
    }
  }

  // drawing.draw_index: int.from_bytes(SHA-256(seed ‖ record hash), "big") % m
  async function drawIndex(recordHash, seed, m) {
    const digest = await sha256(join(encoder.encode(seed), bytesOfHex(recordHash)));
    return Number(BigInt("0x" + digest) % BigInt(m));
  }

  // drawing.reserve_order: the pool outside the drawn panel, not excluded, by
  // SHA-256(seed ‖ record hash ‖ "reserve" ‖ id)
  async function reserveOrder(record, seed, drawn) {
    const prefix = join(encoder.encode(seed), bytesOfHex(record.record_hash), encoder.encode("reserve"));
    const barred = new Set(record.excluded);
    const keyed = [];
    for (const entrant of record.entrants) {
      if (drawn.has(entrant.id) || barred.has(entrant.id)) continue;
      keyed.push([await sha256(join(prefix, encoder.encode(entrant.id))), entrant.id]);
    }
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return keyed.map((pair) => pair[1]);
  }

  // checks.sealed_hashes: field_hashes names exactly the committed fields, each
  // the hash of its field, and hashes to the record's hash
  async function fieldsMatch(record) {
    const committed = record.field_hashes || {};
    const sameNames = Object.keys(committed).sort().join() === COMMITTED.slice().sort().join();
    let ok = sameNames && (await H(committed)) === String(record.record_hash);
    for (const name of COMMITTED) {
      if ((await H(record[name])) !== committed[name]) ok = false;
    }
    return ok;
  }

  // encoding.composition: [[category, value, n], ...] in quota order
  function composition(panel, features, quotas) {
    return quotas.map((q) => [q.category, q.value,
      panel.filter((i) => features[i][q.category] === q.value).length]);
  }

  // drawing.next_replacement: who fills a vacancy under the committed rule;
  // drawn one person a household, nobody whose household holds a place
  function nextReplacement(record, reserves, standing, invited, skipped, features, homes) {
    const quotas = record.quotas;
    const k = record.k;
    let candidates = reserves.filter((r) => !invited.has(r) && !skipped.has(r));
    if (homes) {
      const held = new Set(Array.from(standing, (i) => (i in homes ? homes[i] : i)));
      candidates = candidates.filter((r) => !held.has(r in homes ? homes[r] : r));
    }
    const have = (people) => quotas.map((q) =>
      Array.from(people).filter((i) => features[i][q.category] === q.value).length);
    const withinMax = (people) => have(people).every((n, i) => n <= quotas[i].max);
    const minsReachable = (people) => {
      const counts = have(people);
      const short = {};
      quotas.forEach((q, i) => {
        short[q.category] = (short[q.category] || 0) + Math.max(0, q.min - counts[i]);
      });
      return Object.values(short).every((n) => n <= k - people.size);
    };
    for (const r of candidates) {
      const after = new Set(standing).add(r);
      if (withinMax(after) && minsReachable(after)) return r;
    }
    for (const r of candidates) {
      if (withinMax(new Set(standing).add(r))) return r;
    }
    return null;
  }

  // The organisers' full record, read in this browser and sent nowhere: what
  // checks.sealed_contents and sealed_history check with its openings for a
  // record drawn one person a household (encoding.HOUSEHOLD_RULE).
  async function runFull(section, full) {
    const data = section.dataset;
    const results = {};
    const details = {};
    const byHousehold = full.replacement === data.householdRule;
    // same: this draw's record, every committed field as published
    results.same = full.format === SEALED && data.published !== ""
      && String(full.record_hash) === data.published
      && String(downloaded.record_hash) === data.published && (await fieldsMatch(full))
      && (await H(full.entrants)) === full.entrants_hash
      && (await H(full.panels)) === full.panels_hash
      && (await H(full.compositions)) === full.compositions_hash;
    if (!results.same) {
      for (const name of ["openings", "households", "replayed"]) results[name] = false;
      return { results, details };
    }
    // openings: each entrant's commitment opens with its salt, features and household
    const openings = full.openings && typeof full.openings === "object" ? full.openings : {};
    const features = {};
    const homes = {};
    let openingsOk = true;
    for (const entrant of full.entrants) {
      const o = openings[entrant.id];
      if (!o || typeof o !== "object" || (byHousehold && !("household" in o))) {
        openingsOk = false;
        details.openings = entrant.id;
        break;
      }
      const opened = { features: o.features || {}, salt: String(o.salt) };
      if (byHousehold) opened.household = String(o.household);
      if ((await H(opened)) !== entrant.commitment) {
        openingsOk = false;
        details.openings = entrant.id;
        break;
      }
      features[entrant.id] = o.features || {};
      if (byHousehold) homes[entrant.id] = String(o.household);
    }
    results.openings = openingsOk;
    // households: every panel opens its composition, meets every quota and
    // holds one person a household
    let panelsOk = openingsOk && byHousehold && Array.isArray(full.composition_salts);
    for (let n = 0; panelsOk && n < full.panels.length; n++) {
      const panel = full.panels[n];
      const counts = composition(panel, features, full.quotas);
      const salt = String(full.composition_salts[n]);
      const within = full.quotas.every((q, i) => q.min <= counts[i][2] && counts[i][2] <= q.max);
      const houses = new Set(panel.map((i) => homes[i]));
      if (!within || houses.size !== panel.length
          || (await H({ counts: counts, salt: salt })) !== full.compositions[n]) {
        panelsOk = false;
        details.households = say(data.panelAt, { n: n });
        break;
      }
    }
    results.households = panelsOk;
    // replayed: each replacement is exactly the one the committed rule gives
    if (data.seeded !== "yes") {
      results.replayed = null;
      return { results, details };
    }
    const seed = data.seed;
    const index = await drawIndex(String(full.record_hash), seed, full.m);
    const picked = full.panels[index];
    const reserves = await reserveOrder(full, seed, new Set(picked));
    const standing = new Set(picked);
    const invited = new Set(picked);
    let replayOk = openingsOk && byHousehold;
    // the replacements this page shows (the downloaded record's), replayed
    const history = Array.isArray(downloaded.history) ? downloaded.history : [];
    const events = history.filter((e) => e && VACANCIES.includes(e.event));
    for (let n = 0; replayOk && n < events.length; n++) {
      const event = events[n];
      const chosen = event.replacement === undefined ? null : event.replacement;
      if (!standing.has(event.id)) { replayOk = false; break; }
      standing.delete(event.id);
      const skipped = new Set(event.skipped || []);
      const due = nextReplacement(full, reserves, standing, invited, skipped, features, homes);
      if (due !== chosen) {
        replayOk = false;
        details.replayed = say(data.ruleGives, { n: n + 1, due: due, chosen: chosen });
        break;
      }
      if (chosen !== null) { standing.add(chosen); invited.add(chosen); }
    }
    results.replayed = replayOk;
    return { results, details };
  }

  function showFull(section, outcome) {
    const data = section.dataset;
    let failed = 0;
    for (const item of section.querySelectorAll("[data-full]")) {
      const ok = outcome.results[item.dataset.full];
      const state = ok === true ? "pass" : ok === false ? "fail" : "none";
      if (state === "fail") failed += 1;
      item.dataset.state = state;
      item.querySelector(".verdict").textContent =
        state === "pass" ? data.pass : state === "fail" ? data.fail : data.waiting;
      const detail = outcome.details[item.dataset.full];
      item.querySelector(".detail").textContent = detail ? " (" + detail + ")" : "";
    }
    section.dataset.fullOutcome = failed ? "fail" : "pass";
    section.querySelector(".full-summary").textContent = failed ? data.someFail : data.allPass;
  }

  function say(template, values) {
    return template.replace(/\{(\w+)\}/g, (all, key) => (key in values ? String(values[key]) : all));
  }

  async function run(section) {
    const data = section.dataset;
    const results = {};
    const details = {};
    const mark = (name, ok, detail) => {
      results[name] = ok;
      if (detail) details[name] = detail;
    };
    let record;
    const response = await fetch(data.recordUrl, { cache: "no-store", credentials: "omit" });
    if (!response.ok) throw new Error("record: " + response.status);
    record = await response.json();
    if (!record || record.format !== SEALED) throw new Error("unknown record format");
    downloaded = record;

    // published: the record's hash is the one announced at commit
    const claimed = String(record.record_hash);
    mark("published", data.published !== "" && claimed === data.published);
    // fields: each committed field, and field_hashes to the record hash
    const fieldsOk = await fieldsMatch(record);
    const computedHash = await H(record.field_hashes || {});
    mark("fields", fieldsOk, say(data.computedHash, { hash: computedHash }));
    section.dataset.computedRecordHash = computedHash;
    // lists: entrants, panels, compositions against their hashes
    let listsOk = true;
    for (const name of ["entrants", "panels", "compositions"]) {
      if ((await H(record[name])) !== record[name + "_hash"]) listsOk = false;
    }
    mark("lists", listsOk);
    // panels: m panels of k different entrants, none excluded
    const ids = new Set((record.entrants || []).map((e) => e.id));
    const barred = new Set(record.excluded || []);
    const k = record.k;
    const m = record.m;
    let panelsOk = Number.isSafeInteger(k) && k > 0 && Number.isSafeInteger(m) && m > 0
      && Array.isArray(record.panels) && record.panels.length === m
      && Array.isArray(record.compositions) && record.compositions.length === m;
    if (panelsOk) {
      for (const panel of record.panels) {
        if (!Array.isArray(panel) || panel.length !== k || new Set(panel).size !== k
            || panel.some((id) => !ids.has(id) || barred.has(id))) {
          panelsOk = false;
          break;
        }
      }
    }
    mark("panels", panelsOk);
    // household: a citizens' assembly's record commits the rule of one person a
    // household (checks.sealed_contents: a rule this software knows; the page
    // gives the one an assembly must have, encoding.HOUSEHOLD_RULE)
    if (data.householdRule) mark("household", record.replacement === data.householdRule);

    if (data.seeded !== "yes") {
      for (const name of ["seed", "index", "quotas", "replacements"]) mark(name, null);
      return { results, details };
    }
    const seed = data.seed;
    // seed: the beacon's randomness, or what both witnesses entered
    if (data.kind === "beacon") {
      let ok = false;
      try { ok = (await sha256(bytesOfHex(data.signature))) === seed && data.signature !== ""; }
      catch (error) { ok = false; }
      mark("seed", ok);
    } else if (data.kind === "lottery") {
      const witnesses = JSON.parse(data.witnesses);
      mark("seed", witnesses.length >= 2 && witnesses.every((w) => w === seed));
    } else {
      mark("seed", false);
    }
    // index: the seed picks the panel this page shows
    const index = await drawIndex(claimed, seed, m);
    const shown = JSON.parse(data.panel);
    const picked = record.panels[index] || [];
    mark("index", canonical(picked) === canonical(shown),
      say(data.computedIndex, { index: index }));
    section.dataset.computedIndex = String(index);
    // quotas: the opened composition of the drawn panel, against every quota
    const opened = record.opened;
    let quotasOk = false;
    if (opened && opened.index === index && Array.isArray(opened.counts)) {
      const commitment = await H({ counts: opened.counts, salt: String(opened.salt) });
      const keys = record.quotas.map((q) => canonical([q.category, q.value]));
      quotasOk = commitment === record.compositions[index]
        && canonical(opened.counts.map((c) => c.slice(0, 2))) === "[" + keys.join(",") + "]"
        && record.quotas.every((q, i) => q.min <= opened.counts[i][2] && opened.counts[i][2] <= q.max);
    }
    mark("quotas", quotasOk);
    // replacements: each from the reserve order, never invited before
    const history = Array.isArray(record.history) ? record.history : [];
    const events = history.filter((e) => e && VACANCIES.includes(e.event));
    if (events.length === 0) {
      mark("replacements", null);
      section.dataset.reserves = "";
    } else {
      const reserves = await reserveOrder(record, seed, new Set(picked));
      section.dataset.reserves = reserves.join(" ");
      const standing = new Set(picked);
      const invited = new Set(picked);
      let ok = true;
      const where = [];
      for (const event of events) {
        if (!standing.has(event.id)) { ok = false; break; }
        standing.delete(event.id);
        const chosen = event.replacement;
        if (chosen === null || chosen === undefined) continue;
        if (!reserves.includes(chosen) || invited.has(chosen)) { ok = false; break; }
        where.push(say(data.reserveAt, { id: chosen, n: reserves.indexOf(chosen) + 1 }));
        standing.add(chosen);
        invited.add(chosen);
      }
      mark("replacements", ok, where.join("; "));
    }
    return { results, details };
  }

  function show(section, outcome) {
    const data = section.dataset;
    let failed = 0;
    for (const item of section.querySelectorAll("[data-check]")) {
      const name = item.dataset.check;
      const ok = outcome.results[name];
      const state = ok === true ? "pass" : ok === false ? "fail" : "none";
      if (state === "fail") failed += 1;
      item.dataset.state = state;
      const waiting = data.seeded !== "yes" && ["seed", "index", "quotas", "replacements"].includes(name);
      item.querySelector(".verdict").textContent =
        state === "pass" ? data.pass : state === "fail" ? data.fail : waiting ? data.waiting : data.none;
      item.querySelector(".detail").textContent = outcome.details[name] ? " (" + outcome.details[name] + ")" : "";
    }
    section.dataset.outcome = failed ? "fail" : "pass";
    const trial = data.kind !== "beacon" && data.kind !== "lottery";
    section.querySelector(".summary").textContent =
      trial ? data.trial : failed ? data.someFail : data.allPass;
  }

  function broken(section, sentence) {
    for (const item of section.querySelectorAll("[data-check]")) {
      item.dataset.state = "fail";
      item.querySelector(".verdict").textContent = section.dataset.fail;
    }
    section.dataset.outcome = "fail";
    section.querySelector(".summary").textContent = sentence;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const section = document.getElementById("check");
    if (!section) return;
    if (!window.crypto || !crypto.subtle) {
      broken(section, section.dataset.noCrypto);
      return;
    }
    run(section).then(
      (outcome) => show(section, outcome),
      () => broken(section, section.dataset.unreadable),
    );
    const picker = document.getElementById("full-record");
    if (!picker) return;
    picker.addEventListener("change", () => {
      const file = picker.files && picker.files[0];
      if (!file) return;
      file.text().then((text) => runFull(section, JSON.parse(text))).then(
        (outcome) => showFull(section, outcome),
        () => {
          section.dataset.fullOutcome = "fail";
          section.querySelector(".full-summary").textContent = section.dataset.unreadable;
        },
      );
    });
  });
})();
