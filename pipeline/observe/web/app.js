// The streamstat page: back-fills from /api/history, then follows /events.
// Every chart is drawn here on a canvas; nothing is fetched from elsewhere.
"use strict";
(function () {
  var WINDOW = 600; // seconds shown by the time charts
  var COLORS = ["#2f6fdf", "#e07b00", "#2e9d5b", "#8a4fd8", "#c23d7a", "#138a9e", "#7a6a00"];
  var hist = [];   // points, oldest first, as /api/history gives them
  var snap = null; // the last snapshot

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text; // never innerHTML: keys are the stream's bytes
    return e;
  }
  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) return "–";
    var a = Math.abs(x);
    if (a >= 1e12) return (x / 1e12).toFixed(2) + "T";
    if (a >= 1e9) return (x / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return (x / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return (x / 1e3).toFixed(1) + "k";
    if (Number.isInteger(x) || a >= 100) return String(Math.round(x));
    return x.toFixed(digits === undefined ? 2 : digits);
  }
  function bytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }
  function dur(s) {
    if (s < 0 || !isFinite(s)) return "–";
    if (s < 1) return (s * 1000).toFixed(s < 0.01 ? 2 : 0) + " ms";
    if (s < 120) return s.toFixed(1) + " s";
    var m = Math.floor(s / 60), h = Math.floor(m / 60);
    return h ? h + " h " + (m % 60) + " m" : m + " m " + Math.floor(s % 60) + " s";
  }
  function pct(x) { return isFinite(x) ? (100 * x).toFixed(x < 0.1 ? 1 : 0) + "%" : "–"; }
  function kv(dl, pairs) {
    dl.textContent = "";
    pairs.forEach(function (p) { dl.appendChild(el("dt", "", p[0])); dl.appendChild(el("dd", "", p[1])); });
  }
  function time(t) { return Date.parse(t) / 1000; }

  // ---- charts ----

  // prepare sizes a canvas for the screen and returns its context and size.
  function prepare(c) {
    var dpr = window.devicePixelRatio || 1, w = c.clientWidth || 400, h = c.height / (c._dpr || 1);
    c._dpr = dpr;
    c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
    var g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "11px 'DejaVu Sans', sans-serif";
    return { g: g, w: w, h: h };
  }

  // lineChart draws series [{name, color, pts: [[t, y]], band: [[t, lo, hi]], dash}]
  // against time, the last WINDOW seconds; opt.max fixes the y range, opt.fmt labels it;
  // opt.now ends the axis elsewhere than at the snapshot's time (the last window's end),
  // opt.span is the longest axis (default WINDOW), opt.gap the longest step joined.
  function lineChart(c, series, opt) {
    opt = opt || {};
    var s = prepare(c), g = s.g, L = 52, R = 8, T = 22, B = 18, W = s.w - L - R, H = s.h - T - B;
    var now = opt.now !== undefined ? opt.now : snap ? time(snap.time) : Date.now() / 1000, first = now;
    series.forEach(function (se) { if (se.pts.length) first = Math.min(first, se.pts[0][0]); });
    // The axis spans the data, a minute at least and WINDOW at most.
    var span = Math.min(opt.span || WINDOW, Math.max(60, now - first)), t0 = now - span;
    var ymax = opt.max || 0, ymin = 0, npts = 0, maxima = {};
    series.forEach(function (se) {
      var m = 0;
      se.pts.forEach(function (p) { if (p[0] >= t0) { npts++; m = Math.max(m, p[1]); } });
      (se.band || []).forEach(function (p) { if (p[0] >= t0) { m = Math.max(m, p[2]); } });
      maxima[se.name] = m;
      if (!opt.max) ymax = Math.max(ymax, m);
      if (opt.fit) (se.band || se.pts).forEach(function (p) { if (p[0] >= t0) ymin = ymin ? Math.min(ymin, p[1]) : p[1]; });
    });
    if (!opt.fit) ymin = 0;
    if (ymax <= ymin) ymax = ymin + 1;
    if (!opt.max) ymax += (ymax - ymin) * 0.08;
    c.dataset.points = String(npts);
    c.dataset.max = JSON.stringify(maxima);
    var X = function (t) { return L + (t - t0) / span * W; };
    var Y = function (y) { return T + H - (y - ymin) / (ymax - ymin) * H; };
    g.strokeStyle = "#dde1e7"; g.fillStyle = "#68707f"; g.lineWidth = 1;
    g.textAlign = "right"; g.textBaseline = "middle";
    for (var i = 0; i <= 4; i++) {
      var yv = ymin + (ymax - ymin) * i / 4, yy = Math.round(Y(yv)) + 0.5;
      g.beginPath(); g.moveTo(L, yy); g.lineTo(L + W, yy); g.stroke();
      g.fillText((opt.fmt || num)(yv), L - 4, yy);
    }
    g.textAlign = "center"; g.textBaseline = "top";
    var step = [10, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600].find(function (st) { return span / st <= 6; }) || 86400;
    for (var a = 0; a <= span + 0.001; a += step)
      g.fillText(a ? "-" + (a < 60 || a % 60 ? a + "s" : a < 3600 || a % 3600 ? a / 60 + "m" : a / 3600 + "h") : opt.nowLabel || "now", X(now - a), T + H + 4);
    g.save(); g.beginPath(); g.rect(L, T, W, H); g.clip();
    series.forEach(function (se) {
      if (se.band && se.band.length) {
        g.fillStyle = se.color + "33"; g.beginPath();
        se.band.forEach(function (p, j) { if (j) g.lineTo(X(p[0]), Y(p[2])); else g.moveTo(X(p[0]), Y(p[2])); });
        for (var j = se.band.length - 1; j >= 0; j--) g.lineTo(X(se.band[j][0]), Y(se.band[j][1]));
        g.closePath(); g.fill();
      }
      g.strokeStyle = se.color; g.lineWidth = 1.6; g.setLineDash(se.dash ? [4, 3] : []);
      g.beginPath();
      var on = false, last = null;
      se.pts.forEach(function (p) {
        if (last !== null && p[0] - last > (opt.gap || 5 * tick)) on = false; // a gap: do not join
        if (on) g.lineTo(X(p[0]), Y(p[1])); else g.moveTo(X(p[0]), Y(p[1]));
        on = true; last = p[0];
      });
      g.stroke();
    });
    g.restore(); g.setLineDash([]);
    var x = L;
    g.textAlign = "left"; g.textBaseline = "top";
    series.forEach(function (se) {
      g.fillStyle = se.color; g.fillRect(x, 6, 10, 3);
      g.fillStyle = "#1d2330"; g.fillText(se.name, x + 14, 2);
      x += 22 + g.measureText(se.name).width;
    });
    if (!npts) { g.fillStyle = "#68707f"; g.textAlign = "center"; g.fillText("waiting for data", L + W / 2, T + H / 2); }
  }

  // strip draws the recent checkpoints as bars: height duration, dark part alignment.
  function strip(c, recent) {
    var s = prepare(c), g = s.g, L = 52, R = 8, T = 8, B = 6, W = s.w - L - R, H = s.h - T - B, n = 60;
    var max = 0;
    recent.forEach(function (r) { max = Math.max(max, r.duration_seconds || 0); });
    if (max <= 0) max = 0.001;
    c.dataset.points = String(recent.length);
    c.dataset.max = JSON.stringify({ duration: max, last: recent.length ? recent[recent.length - 1].id : 0 });
    g.fillStyle = "#68707f"; g.textAlign = "right"; g.textBaseline = "middle";
    g.fillText(dur(max), L - 4, T + 4); g.fillText("0", L - 4, T + H);
    g.strokeStyle = "#dde1e7"; g.beginPath(); g.moveTo(L, T + H + 0.5); g.lineTo(L + W, T + H + 0.5); g.stroke();
    var bw = W / n;
    recent.forEach(function (r, i) {
      var x = L + (n - recent.length + i) * bw;
      if (!r.ok) { g.fillStyle = "#d64545"; g.fillRect(x + 1, T, bw - 2, H); return; }
      var h = Math.max(2, (r.duration_seconds / max) * H), ha = Math.min(h, (r.alignment_seconds / max) * H);
      g.fillStyle = "#8fb3f0"; g.fillRect(x + 1, T + H - h, bw - 2, h);
      g.fillStyle = "#2f6fdf"; g.fillRect(x + 1, T + H - ha, bw - 2, ha);
    });
    if (!recent.length) { g.textAlign = "center"; g.fillText("no checkpoint yet", L + W / 2, T + H / 2); }
  }

  // ---- data ----

  var tick = 1;

  // bandsOf finds estimates with bounds in an answer, as the server's history does.
  function bandsOf(a, prefix, depth, out) {
    if (!a || typeof a !== "object" || Array.isArray(a)) return out;
    [["distinct", "distinct", "lower", "upper"], ["mean", "mean", "mean_lower", "mean_upper"], ["value", "value", "lower", "upper"]]
      .forEach(function (f) {
        if (typeof a[f[1]] === "number" && typeof a[f[2]] === "number" && typeof a[f[3]] === "number")
          out.push({ name: prefix ? prefix + "." + f[0] : f[0], value: a[f[1]], lower: a[f[2]], upper: a[f[3]] });
      });
    if (depth > 1) Object.keys(a).sort().forEach(function (k) {
      if (a[k] && typeof a[k] === "object" && !Array.isArray(a[k])) bandsOf(a[k], prefix ? prefix + "." + k : k, depth - 1, out);
    });
    return out;
  }

  // pointOf makes a history point of a snapshot, as the server does.
  function pointOf(s) {
    var stages = [];
    (s.stages || []).forEach(function (st) {
      var p = stages.find(function (q) { return q.stage === st.stage; });
      if (!p) { p = { stage: st.stage, in_per_second: 0, out_per_second: 0 }; stages.push(p); }
      p.in_per_second += st.in_per_second; p.out_per_second += st.out_per_second;
    });
    var sh = s.shedding;
    return {
      t: s.time, records_per_second: s.records_per_second, stages: stages,
      keep_probability: sh ? sh.keep_probability : 1, shed_per_second: sh ? sh.shed_per_second : 0,
      shed_fraction: sh ? sh.window_shed_fraction : 0, since_last_record_seconds: s.since_last_record_seconds,
      bands: bandsOf(s.answer, "", 2, [])
    };
  }

  function addPoint(p) {
    if (hist.length && time(hist[hist.length - 1].t) >= time(p.t)) return;
    hist.push(p);
    var cut = time(p.t) - WINDOW - 5 * tick;
    while (hist.length && time(hist[0].t) < cut) hist.shift();
  }

  // ---- rendering ----

  function renderStatus(s) {
    $("job").textContent = s.job || "";
    document.title = "streamstat " + (s.job || "");
    var read = s.total_bytes ? bytes(s.bytes) + " of " + bytes(s.total_bytes) + " (" + pct(s.bytes / s.total_bytes) + ")" : s.bytes ? bytes(s.bytes) : "–";
    var rows = [
      ["state", s.state + (s.error ? ": " + s.error : "")],
      ["inputs", (s.inputs && s.inputs.length) ? s.inputs.join(" ") : "–"],
      ["uptime", dur(s.uptime_seconds)],
      ["records read", num(s.records) + "  (" + num(s.records_per_second) + "/s)"],
      ["bytes read", read],
      ["version", s.version || "–"],
      ["resumed", s.resumed ? "yes" + (s.restore ? ", from checkpoint " + s.restore.id : "") : "no"]
    ];
    kv($("status-kv"), rows);
    var f = s.since_last_record_seconds;
    $("fresh-text").textContent = f < 0 ? "no record yet" : f < 2 * tick ? "records are arriving" : dur(f) + " since the last record";
  }

  function renderHealth(s) {
    var tb = $("health-table").tBodies[0];
    tb.textContent = "";
    var rows = (s.sources || []).map(function (x) {
      return { name: "source#" + x.source, in: null, out: x.out_per_second, busy: x.busy_share, idle: x.idle_share, bp: x.backpressured_share, health: x.health };
    }).concat((s.stages || []).map(function (x) {
      return { name: x.stage + "#" + x.instance, in: x.in_per_second, out: x.out_per_second, busy: x.busy_share, idle: x.idle_share, bp: x.backpressured_share, health: x.health, q: x.queue_usage, cr: x.credits };
    }));
    rows.forEach(function (r) {
      var tr = el("tr");
      tr.appendChild(el("td", "", r.name));
      tr.appendChild(el("td", "", r.in === null ? "" : num(r.in)));
      tr.appendChild(el("td", "", num(r.out)));
      var td = el("td", "bars"), bar = el("div", "bar");
      [["busy", r.busy], ["idle", r.idle], ["bp", r.bp]].forEach(function (b) {
        var sp = el("span", b[0]); sp.style.width = (100 * Math.max(0, b[1] || 0)).toFixed(1) + "%"; bar.appendChild(sp);
      });
      bar.title = "busy " + pct(r.busy) + ", idle " + pct(r.idle) + ", back-pressured " + pct(r.bp);
      td.appendChild(bar); tr.appendChild(td);
      var hb = el("td"); hb.appendChild(el("span", "badge " + r.health, r.health + " " + pct(r.bp))); tr.appendChild(hb);
      tr.appendChild(el("td", "", r.q === undefined ? "" : pct(r.q)));
      tr.appendChild(el("td", "", r.cr === undefined ? "" : String(r.cr)));
      tb.appendChild(tr);
    });
    $("bottleneck").textContent = s.bottleneck ? "Bottleneck: " + s.bottleneck + " (busy, not back-pressured)." : "No bottleneck: every instance keeps up.";
  }

  function renderShed(s) {
    var sh = s.shedding;
    if (!sh) { kv($("shed-kv"), [["shedding", "off"]]); return; }
    kv($("shed-kv"), [
      ["keep probability", num(sh.keep_probability, 3)],
      ["seen / kept / shed", num(sh.seen) + " / " + num(sh.kept) + " / " + num(sh.shed)],
      ["shed so far", pct(sh.shed_fraction) + " (min p " + num(sh.min_p, 3) + ")"],
      ["arrival / capacity", num(sh.arrival_per_second) + " / " + num(sh.capacity_per_second) + " per s"]
    ]);
  }

  function renderCheckpoints(s) {
    var c = s.checkpoints;
    if (!c) { kv($("ckpt-kv"), [["checkpoints", "off"]]); strip($("chart-checkpoints"), []); return; }
    var rows = [
      ["completed / failed", c.completed + " / " + c.failed + (c.in_progress ? " (one in progress)" : "")],
      ["last", c.last_id ? "#" + c.last_id + ": " + dur(c.last_duration_seconds) + ", " + bytes(c.last_size_bytes) + ", alignment " + dur(c.last_alignment_seconds) : "–"],
      ["last restore", s.restore ? "#" + s.restore.id + " (" + new Date(s.restore.time).toLocaleString() + ")" : "none"]
    ];
    if (c.last_error) rows.push(["last error", c.last_error]);
    kv($("ckpt-kv"), rows);
    strip($("chart-checkpoints"), c.recent || []);
  }

  // renderAnswer shows an answer by its shape: items (top-k, freq, sample),
  // an estimate with bounds, stats' quantiles; objects inside by name.
  function renderAnswer(box, a, title) {
    if (!a || typeof a !== "object") return;
    var part = el("div", "answer-part");
    if (title) part.appendChild(el("h3", "", title));
    var scalars = [];
    Object.keys(a).forEach(function (k) {
      var v = a[k];
      if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") scalars.push([k, typeof v === "number" ? num(v, 4) : String(v)]);
    });
    if (typeof a.distinct === "number") part.appendChild(el("p", "big", num(a.distinct) + "  [" + num(a.lower) + ", " + num(a.upper) + "]"));
    if (typeof a.mean === "number") part.appendChild(el("p", "big", "mean " + num(a.mean, 4) + "  [" + num(a.mean_lower, 4) + ", " + num(a.mean_upper, 4) + "]"));
    var dl = el("dl", "kv"); kv(dl, scalars); part.appendChild(dl);
    if (Array.isArray(a.quantiles) && a.quantiles.length) part.appendChild(table(["q", "value", "lower", "upper"], a.quantiles.map(function (q) {
      return [String(q.q), num(q.value, 4), num(q.lower, 4), num(q.upper, 4)];
    }), "quantiles"));
    if (Array.isArray(a.items)) {
      var counted = a.items.length && typeof a.items[0].count === "number";
      if (counted) {
        part.appendChild(table(["key", "count", "lower", "upper"], a.items.slice(0, 100).map(function (it) {
          return [it.key, num(it.count), num(it.lower), num(it.upper)];
        }), "topk"));
        if (a.items.length > 100) part.appendChild(el("p", "note", "first 100 of " + a.items.length + " items"));
      } else {
        var ul = el("ul", "sample");
        a.items.slice(0, 200).forEach(function (it) { ul.appendChild(el("li", "", it.key)); });
        part.appendChild(ul);
        if (!a.items.length) part.appendChild(el("p", "note", "no item yet"));
      }
    }
    box.appendChild(part);
    Object.keys(a).forEach(function (k) {
      var v = a[k];
      if (v && typeof v === "object" && !Array.isArray(v)) renderAnswer(box, v, title ? title + "." + k : k);
    });
  }

  function table(head, rows, id) {
    var t = el("table", "grid"), th = el("thead"), tr = el("tr"), tb = el("tbody");
    if (id) t.dataset.kind = id;
    head.forEach(function (h) { tr.appendChild(el("th", "", h)); });
    th.appendChild(tr); t.appendChild(th);
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (v, i) { row.appendChild(el("td", i ? "" : "key", v)); });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    return t;
  }

  function drawCharts() {
    var tp = [], names = [];
    hist.forEach(function (p) { (p.stages || []).forEach(function (s) { if (names.indexOf(s.stage) < 0) names.push(s.stage); }); });
    tp.push({ name: "read", color: "#1d2330", pts: hist.map(function (p) { return [time(p.t), p.records_per_second]; }) });
    names.forEach(function (n, i) {
      var col = COLORS[i % COLORS.length];
      var get = function (f) {
        var pts = [];
        hist.forEach(function (p) { var s = (p.stages || []).find(function (q) { return q.stage === n; }); if (s) pts.push([time(p.t), s[f]]); });
        return pts;
      };
      tp.push({ name: n + " in", color: col, pts: get("in_per_second") });
      tp.push({ name: n + " out", color: col, pts: get("out_per_second"), dash: true });
    });
    if (snap && snap.shedding) tp.push({ name: "shed", color: "#d64545", pts: hist.map(function (p) { return [time(p.t), p.shed_per_second]; }) });
    lineChart($("chart-throughput"), tp);
    lineChart($("chart-shed"), [
      { name: "shed fraction", color: "#d64545", pts: hist.map(function (p) { return [time(p.t), p.shed_fraction]; }) },
      { name: "keep probability", color: "#2e9d5b", pts: hist.map(function (p) { return [time(p.t), p.keep_probability]; }) }
    ], { max: 1, fmt: function (y) { return y.toFixed(2); } });
    var box = $("bands"), seen = {};
    hist.forEach(function (p) { (p.bands || []).forEach(function (b) { seen[b.name] = true; }); });
    Object.keys(seen).sort().forEach(function (name, i) {
      var id = "chart-band-" + name.replace(/[^A-Za-z0-9_-]/g, "_"), c = $(id);
      if (!c) {
        box.appendChild(el("h3", "", name + " over time, with its bounds"));
        c = el("canvas", "chart"); c.id = id; c.height = 160; box.appendChild(c);
      }
      var pts = [], band = [];
      hist.forEach(function (p) {
        var b = (p.bands || []).find(function (q) { return q.name === name; });
        if (b) { pts.push([time(p.t), b.value]); band.push([time(p.t), b.lower, b.upper]); }
      });
      lineChart(c, [{ name: name, color: COLORS[i % COLORS.length], pts: pts, band: band }], { fit: true });
    });
  }

  // drawWindows draws each estimate of a windowed answer over the windows'
  // ends, with its bounds; a partial window's point is left out.
  function drawWindows() {
    var ws = (snap && snap.windows) || [], box = $("windows");
    $("windows-sec").hidden = !ws.length;
    if (!ws.length) return;
    var seen = {}, slide = 0, last = time(ws[ws.length - 1].end);
    ws.forEach(function (w, i) {
      (w.bands || []).forEach(function (b) { seen[b.name] = true; });
      if (i) slide = slide ? Math.min(slide, time(w.end) - time(ws[i - 1].end)) : time(w.end) - time(ws[i - 1].end);
    });
    var size = time(ws[0].end) - time(ws[0].start);
    Object.keys(seen).sort().forEach(function (name, i) {
      var id = "chart-window-" + name.replace(/[^A-Za-z0-9_-]/g, "_"), c = $(id);
      if (!c) {
        box.appendChild(el("h3", "", name + " per window of " + dur(size) + ", at each window's end, with its bounds"));
        c = el("canvas", "chart"); c.id = id; c.height = 160; box.appendChild(c);
      }
      var pts = [], band = [];
      ws.forEach(function (w) {
        var b = (w.bands || []).find(function (q) { return q.name === name; });
        if (b && w.complete) { pts.push([time(w.end), b.value]); band.push([time(w.end), b.lower, b.upper]); }
      });
      lineChart(c, [{ name: name, color: COLORS[i % COLORS.length], pts: pts, band: band }],
        { fit: true, now: last, span: 1e9, gap: 1.5 * (slide || size), nowLabel: "last" });
    });
  }

  function render() {
    if (!snap) return;
    renderStatus(snap); renderHealth(snap); renderShed(snap); renderCheckpoints(snap);
    var body = $("answer-body"); body.textContent = "";
    var wins = snap.answer && Array.isArray(snap.answer.windows) ? snap.answer.windows : null;
    if (wins && wins.length) {
      var lw = wins[wins.length - 1];
      renderAnswer(body, lw, "window [" + lw.start + ", " + lw.end + ")" + (lw.complete ? "" : ", partial"));
    } else if (wins) body.appendChild(el("p", "note", "no window closed yet"));
    else if (snap.answer) renderAnswer(body, snap.answer, ""); else body.appendChild(el("p", "note", "no answer yet"));
    drawCharts(); drawWindows();
  }

  function onSnapshot(s) { snap = s; addPoint(pointOf(s)); render(); }

  // backfill replaces the points with the server's history (the whole
  // history at first, the gap after a reconnection).
  function backfill() {
    return fetch("/api/history").then(function (r) { return r.json(); }).then(function (h) {
      tick = h.tick_seconds || 1;
      var pts = h.points || [];
      if (pts.length) { hist = []; pts.forEach(addPoint); }
      if (snap) drawCharts();
    }).catch(function () { /* the events still come */ });
  }

  function connect() {
    var es = new EventSource("/events"), lost = false;
    es.onopen = function () {
      $("conn").textContent = "live"; $("conn").className = "conn live";
      if (lost) { lost = false; backfill(); }
    };
    es.onmessage = function (e) {
      var s;
      try { s = JSON.parse(e.data); } catch (err) { return; }
      onSnapshot(s);
    };
    es.onerror = function () { lost = true; $("conn").textContent = "reconnecting…"; $("conn").className = "conn"; };
  }

  backfill().then(connect);
  window.addEventListener("resize", function () { if (snap) { drawCharts(); drawWindows(); } });
})();
