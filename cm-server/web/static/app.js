// Scalable Shop customer page. Plain JavaScript, no build step, no dependencies.
// Every URL is relative ("buy", "getAllUserBuys/…") so the page works under any
// path prefix an ingress serves it at. The Content-Security-Policy allows no
// inline script or style: everything lives here and in app.css.
"use strict";

(function () {
  const PAGE_SIZE = 20;
  // How long, and how often, to look for a new purchase in the list: cm-server
  // answers once Kafka has it; cm-api stores it a moment later.
  const POLL_FIRST_MS = 250;
  const POLL_MAX_MS = 3000;
  const POLL_FOR_MS = 30000;
  const LABELS = { userid: "User id", username: "Name", price: "Price" };
  const FIELDS = Object.keys(LABELS);

  const $ = (id) => document.getElementById(id);
  const form = $("buy-form");
  const buyButton = $("buy-button");
  const buyStatus = $("buy-status");
  const formError = $("form-error");
  const confirmation = $("confirmation");
  const showButton = $("show-button");
  const moreButton = $("more-button");
  const listStatus = $("list-status");
  const tbody = $("purchases-body");

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  // The purchases on screen: whose, the cursor of the next (older) page, and which
  // ids are shown. generation changes whenever the list starts over, so answers
  // to requests made for an older list are dropped.
  const list = { userid: "", cursor: "", ids: new Set(), pages: 0, generation: 0, loadingFirst: false, loadingMore: false };
  // The Idempotency-Key of the purchase being attempted: a retry of the same form
  // (after a timeout or a 503) reuses it, so the shop stores the purchase once.
  let attempt = null;
  let buying = false;
  let pollGeneration = 0;

  // ---- talking to the API -------------------------------------------------

  async function callAPI(path, init) {
    const options = Object.assign({ cache: "no-store", credentials: "same-origin" }, init || {});
    options.headers = Object.assign({ Accept: "application/json" }, (init && init.headers) || {});
    let res;
    try {
      res = await fetch(path, options);
    } catch (err) {
      return { ok: false, status: 0, error: { code: "network", message: "" } };
    }
    let body = null;
    try {
      body = await res.json();
    } catch (err) {
      body = null;
    }
    if (res.ok && body) {
      return { ok: true, status: res.status, body: body };
    }
    const error = body && body.error && typeof body.error === "object"
      ? body.error
      : { code: res.ok ? "bad_response" : "http_" + res.status, message: "" };
    return { ok: false, status: res.status, error: error };
  }

  function pageURL(userid, cursor) {
    let url = "getAllUserBuys/" + encodeURIComponent(userid) + "?limit=" + PAGE_SIZE;
    if (cursor) {
      url += "&cursor=" + encodeURIComponent(cursor);
    }
    return url;
  }

  function randomKey() {
    // crypto.randomUUID needs a secure context; getRandomValues works everywhere.
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- words ----------------------------------------------------------------

  function sentence(text) {
    text = String(text || "").trim();
    if (!text) {
      return "";
    }
    text = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(text) ? text : text + ".";
  }

  // plainWords turns an API error into a sentence for a person. what is the
  // thing that failed: "take your purchase" or "show the purchases".
  function plainWords(error, what) {
    switch (error.code) {
      case "network":
        return "The shop could not be reached. Check your connection and try again.";
      case "unavailable":
        // A 503: the shop is overloaded or a part of it is down; either way it
        // asks to be retried after Retry-After (a second), so "in a moment".
        return "The shop is busy and cannot " + what + " right now. Please try again in a moment.";
      case "too_many_requests":
        return "The shop is busy. Please wait a moment and try again.";
      case "payload_too_large":
        return "That is too much text. Please shorten it and try again.";
      case "internal":
      case "bad_gateway":
      case "bad_response":
        return "Something went wrong on our side, so the shop could not " + what + ". Please try again in a moment.";
      default:
        return sentence(error.message) || "The shop could not " + what + " (error " + error.code + "). Please try again.";
    }
  }

  function fieldSentence(field, problem) {
    return sentence(LABELS[field] + " " + problem);
  }

  // ---- field errors ---------------------------------------------------------

  function clearFieldError(field) {
    const input = $(field);
    const message = $(field + "-error");
    message.textContent = "";
    message.hidden = true;
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", field + "-hint");
  }

  function showFieldError(field, text) {
    const input = $(field);
    const message = $(field + "-error");
    message.textContent = message.hidden ? text : message.textContent + " " + text;
    message.hidden = false;
    input.setAttribute("aria-invalid", "true");
    // The error is read first, then the hint.
    input.setAttribute("aria-describedby", field + "-error " + field + "-hint");
  }

  function clearFormErrors() {
    FIELDS.forEach(clearFieldError);
    formError.textContent = "";
    formError.hidden = true;
  }

  // showErrors puts every problem of error next to the field it concerns, the
  // rest above the form, and moves focus to the first thing to fix. It returns
  // how many problems it showed.
  function showErrors(error, what) {
    const fields = Array.isArray(error.fields) ? error.fields : [];
    const other = [];
    let shown = 0;
    fields.forEach((p) => {
      if (FIELDS.includes(p.field)) {
        showFieldError(p.field, fieldSentence(p.field, p.problem));
        shown++;
      } else {
        other.push(sentence((p.field ? p.field + " " : "") + p.problem));
      }
    });
    let text = other.join(" ");
    if (!text && shown === 0) {
      text = plainWords(error, what);
    }
    if (text) {
      formError.textContent = text;
      formError.hidden = false;
    }
    const firstInvalid = FIELDS.map($).find((input) => input.getAttribute("aria-invalid") === "true");
    (firstInvalid || formError).focus();
    return shown + other.length || 1;
  }

  // ---- the purchases list ---------------------------------------------------

  function formatTime(iso) {
    const d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : dateFormat.format(d);
  }

  function purchaseRow(p, isNew) {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id;
    if (isNew) {
      tr.className = "new";
    }
    const when = document.createElement("td");
    when.className = "when";
    const time = document.createElement("time");
    time.dateTime = p.timestamp;
    time.textContent = formatTime(p.timestamp);
    when.appendChild(time);
    const name = document.createElement("td");
    name.textContent = p.username;
    const price = document.createElement("td");
    price.className = "num";
    price.textContent = p.price;
    const id = document.createElement("td");
    id.className = "id";
    const code = document.createElement("code");
    code.textContent = p.id;
    id.appendChild(code);
    tr.setAttribute("role", "row");
    const labels = ["When", "Name", "Price", "Purchase id"];
    [when, name, price, id].forEach((td, i) => {
      td.setAttribute("role", "cell");
      td.dataset.label = labels[i];
    });
    tr.append(when, name, price, id);
    return tr;
  }

  function renderListState() {
    const count = list.ids.size;
    $("purchases-intro").hidden = list.userid !== "";
    $("purchases-scroll").hidden = count === 0;
    const empty = $("purchases-empty");
    empty.textContent = list.loadingFirst ? "Loading purchases…" : "No purchases yet.";
    empty.hidden = !(list.userid !== "" && count === 0);
    moreButton.hidden = !list.cursor;
    moreButton.textContent = list.loadingMore ? "Loading…" : "Load more";
    $("purchases-end").hidden = !(list.pages > 1 && !list.cursor);
  }

  function setListOwner(userid) {
    list.generation++;
    list.userid = userid;
    list.cursor = "";
    list.pages = 0;
    list.ids.clear();
    tbody.replaceChildren();
    $("purchases-error").hidden = true;
    $("purchases-heading").textContent = userid ? "Purchases of " + userid : "Purchases";
    $("purchases-caption").textContent = "Purchases of " + userid + ", newest first";
  }

  // appendPage adds an older page at the bottom and returns the new rows.
  function appendPage(page) {
    const rows = [];
    (page.purchases || []).forEach((p) => {
      if (!list.ids.has(p.id)) {
        list.ids.add(p.id);
        const tr = purchaseRow(p, false);
        tbody.appendChild(tr);
        rows.push(tr);
      }
    });
    list.cursor = page.next_cursor || "";
    list.pages++;
    renderListState();
    return rows;
  }

  // mergeNewest puts purchases of a fresh first page that are not shown yet on
  // top, keeping the older pages already loaded and their cursor.
  function mergeNewest(page) {
    if (list.ids.size === 0) {
      // The list was empty: this is its first page again, not an older one.
      list.pages = 0;
      return appendPage(page);
    }
    const fresh = (page.purchases || []).filter((p) => !list.ids.has(p.id));
    const rows = fresh.map((p) => purchaseRow(p, true));
    fresh.forEach((p) => list.ids.add(p.id));
    tbody.prepend(...rows);
    renderListState();
    if (rows.length > 0) {
      listStatus.textContent = "";
    }
    return rows;
  }

  function dotsOnly(userid) {
    return userid === "." || userid === "..";
  }

  async function loadFirstPage(userid) {
    setListOwner(userid);
    const generation = list.generation;
    list.loadingFirst = true;
    renderListState();
    listStatus.textContent = "Loading purchases…";
    if (dotsOnly(userid)) {
      list.loadingFirst = false;
      renderListState();
      listStatus.textContent = "";
      $("purchases-error").textContent = "A browser cannot ask for the purchases of user id “" + userid + "”.";
      $("purchases-error").hidden = false;
      return { ok: false };
    }
    const res = await callAPI(pageURL(userid, ""));
    if (generation !== list.generation) {
      return { ok: false, stale: true };
    }
    list.loadingFirst = false;
    renderListState();
    if (!res.ok) {
      listStatus.textContent = "";
      return res;
    }
    const rows = appendPage(res.body);
    listStatus.textContent = rows.length === 0
      ? "No purchases yet for " + userid + "."
      : "Showing the " + rows.length + " newest purchases of " + userid + ".";
    return res;
  }

  function showListError(res, focusField) {
    const error = res.error;
    const fields = Array.isArray(error.fields) ? error.fields : [];
    if (fields.some((p) => p.field === "userid")) {
      clearFieldError("userid");
      fields.filter((p) => p.field === "userid").forEach((p) => showFieldError("userid", fieldSentence("userid", p.problem)));
      if (focusField) {
        $("userid").focus();
      }
      return;
    }
    let text = plainWords(error, "show the purchases");
    if (fields.some((p) => p.field === "cursor")) {
      text = "This list is out of date. Choose “Show purchases” to load it again.";
    }
    $("purchases-error").textContent = text;
    $("purchases-error").hidden = false;
  }

  showButton.addEventListener("click", async () => {
    const userid = $("userid").value.trim();
    $("userid").value = userid;
    clearFieldError("userid");
    if (!userid) {
      showFieldError("userid", fieldSentence("userid", "is required to show purchases"));
      $("userid").focus();
      return;
    }
    const res = await loadFirstPage(userid);
    if (!res.ok && res.error) {
      showListError(res, true);
    }
  });

  moreButton.addEventListener("click", async () => {
    if (list.loadingMore || !list.cursor) {
      return;
    }
    const generation = list.generation;
    list.loadingMore = true;
    moreButton.setAttribute("aria-disabled", "true");
    renderListState();
    listStatus.textContent = "Loading older purchases…";
    const res = await callAPI(pageURL(list.userid, list.cursor));
    list.loadingMore = false;
    moreButton.removeAttribute("aria-disabled");
    renderListState();
    if (generation !== list.generation) {
      return;
    }
    if (!res.ok) {
      listStatus.textContent = "";
      showListError(res, false);
      return;
    }
    $("purchases-error").hidden = true;
    const rows = appendPage(res.body);
    const loaded = rows.length === 1 ? "Loaded 1 older purchase." : "Loaded " + rows.length + " older purchases.";
    if (list.cursor) {
      listStatus.textContent = loaded;
    } else {
      // The button is gone: move focus to the first row it brought.
      listStatus.textContent = loaded + " That is all of them.";
      const target = rows[0] || $("purchases-end");
      target.tabIndex = -1;
      target.focus();
    }
  });

  // ---- buying -------------------------------------------------------------

  function setBuying(on) {
    buying = on;
    if (on) {
      buyButton.setAttribute("aria-disabled", "true");
    } else {
      buyButton.removeAttribute("aria-disabled");
    }
  }

  function confirm(id, state) {
    $("confirmation-id").textContent = id;
    $("confirmation-state").textContent = state;
    confirmation.hidden = false;
  }

  // waitForPurchase looks for id on the first page of userid's purchases, with
  // growing pauses, until it is there or POLL_FOR_MS have passed.
  async function waitForPurchase(userid, id) {
    const generation = ++pollGeneration;
    const deadline = Date.now() + POLL_FOR_MS;
    let delay = POLL_FIRST_MS;
    for (;;) {
      if (generation !== pollGeneration) {
        return;
      }
      let found = list.userid === userid && list.ids.has(id);
      if (!found) {
        const res = await callAPI(pageURL(userid, ""));
        if (generation !== pollGeneration) {
          return;
        }
        if (res.ok) {
          if (list.userid === userid) {
            mergeNewest(res.body);
          }
          found = (res.body.purchases || []).some((p) => p.id === id);
        }
      }
      if (found) {
        $("confirmation-state").textContent = "Recorded: it is now at the top of the purchases.";
        return;
      }
      if (Date.now() + delay > deadline) {
        $("confirmation-state").textContent =
          "The shop has your purchase, but it is not in the list yet. Choose “Show purchases” in a moment to see it.";
        return;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (buying) {
      return;
    }
    const purchase = {};
    FIELDS.forEach((f) => {
      purchase[f] = $(f).value.trim();
      $(f).value = purchase[f];
    });
    const signature = JSON.stringify(purchase);
    if (!attempt || attempt.signature !== signature) {
      attempt = { key: randomKey(), signature: signature };
    }
    clearFormErrors();
    confirmation.hidden = true;
    pollGeneration++;
    setBuying(true);
    buyStatus.textContent = "Sending your purchase…";
    const res = await callAPI("buy", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": attempt.key },
      body: signature,
    });
    setBuying(false);
    if (!res.ok) {
      const count = showErrors(res.error, "take your purchase");
      buyStatus.textContent = res.error.fields && res.error.fields.length
        ? "Nothing was bought: please fix " + (count === 1 ? "the problem" : "the " + count + " problems") + " shown."
        : "Nothing was bought.";
      return;
    }
    attempt = null;
    const id = res.body.id;
    buyStatus.textContent = "";
    confirm(id, "Waiting for it to appear in the list…");
    confirmation.focus();
    if (list.userid !== purchase.userid) {
      const first = await loadFirstPage(purchase.userid);
      if (!first.ok && first.error) {
        showListError(first, false);
      }
    }
    if (!dotsOnly(purchase.userid)) {
      await waitForPurchase(purchase.userid, id);
    }
  });

  // Typing in a field clears its error: the message described the old value.
  FIELDS.forEach((f) => {
    $(f).addEventListener("input", () => {
      if ($(f).getAttribute("aria-invalid") === "true") {
        clearFieldError(f);
      }
    });
  });

  renderListState();
})();
