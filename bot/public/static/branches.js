// The branch directory's search box: filters the list in the page, by a place's
// name (or its first letters) or a postcode (its outward part, or a prefix of it),
// as bot/branches/rules.py's Area.covers reads one.
"use strict";

(function () {
  function covers(prefixes, outward) {
    return prefixes.some((prefix) =>
      outward === prefix
      || (/^[A-Z]+$/.test(outward) && prefix.startsWith(outward))
      || (/^[A-Z]+$/.test(prefix) && outward.startsWith(prefix) && /\d/.test(outward.charAt(prefix.length))));
  }

  function filter(form, items, query) {
    const text = query.trim().toLocaleLowerCase();
    const outward = query.trim().toUpperCase().split(/\s+/)[0] || "";
    let shown = 0;
    for (const item of items) {
      const places = item.dataset.places.split("|");
      const postcodes = item.dataset.postcodes.split(" ").filter(Boolean);
      const match = text === ""
        || places.some((place) => place.includes(text))
        || (/^[A-Z]{1,2}[0-9]?/.test(outward) && covers(postcodes, outward));
      item.hidden = !match;
      if (match) shown += 1;
    }
    const found = document.querySelector(".found");
    if (text === "") found.textContent = "";
    else found.textContent = JSON.parse(form.dataset.counts)[String(shown)] || form.dataset.none;
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("form.search");
    const input = document.getElementById("q");
    if (!form || !input) return;
    const items = Array.from(document.querySelectorAll("ul.branches > li"));
    input.addEventListener("input", () => filter(form, items, input.value));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      filter(form, items, input.value);
    });
    filter(form, items, input.value);
  });
})();
