/* clawtrace causal graph viewer: a layered left-to-right layout (causes left, effects right),
 * zoom and pan, edge evidence on hover, event details on click. Plain JavaScript, no
 * dependencies, no network: the page embeds its data as JSON in a script element of type
 * application/json.
 * Every string from the data is inserted with textContent, never as HTML: event summaries are
 * attacker-controlled (a fetched page's title, a command line).
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var NODE_W = 188, NODE_H = 44, LAYER_GAP = 110, ROW_GAP = 18, SUBCOL_GAP = 26, MAX_PER_COLUMN = 18, ROW_BAND_GAP = 90;
  var READABLE = 0.6; /* the smallest initial scale at which node text can be read */

  var FAMILIES = [
    ["message", "input message", ["input.message"]],
    ["model", "model turn", ["model.turn"]],
    ["tool", "tool call", ["tool.call"]],
    ["result", "tool result", ["tool.result"]],
    ["file", "file read/write", ["file.read", "file.write", "file.delete"]],
    ["memory", "memory", ["memory.read", "memory.write"]],
    ["skill", "skill", ["skill.load", "skill.install"]],
    ["process", "process", ["process.exec"]],
    ["fetch", "net fetch (in)", ["net.fetch"]],
    ["egress", "net egress (out)", ["net.egress"]],
    ["policy", "policy decision", ["policy.decision"]],
    ["other", "other", []]
  ];
  var EDGE_KINDS = [
    ["data_flow", "data flow: content matched"],
    ["effect", "effect: the call did it"],
    ["emitted", "emitted: the turn asked"],
    ["returned", "returned: the call's result"],
    ["consumed", "consumed: in the model's context"],
    ["wrote_read", "wrote then read (same artifact)"],
    ["spawned", "spawned a child session"]
  ];
  var FAMILY_OF = {};
  FAMILIES.forEach(function (f) { f[2].forEach(function (k) { FAMILY_OF[k] = f[0]; }); });
  var KNOWN_EDGE = {};
  EDGE_KINDS.forEach(function (k) { KNOWN_EDGE[k[0]] = true; });

  function family(kind) { return FAMILY_OF[kind] || "other"; }

  function el(tag, attrs, parent) {
    var e = document.createElementNS(SVG_NS, tag);
    if (attrs) { Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); }); }
    if (parent) { parent.appendChild(e); }
    return e;
  }

  function h(tag, cls, text, parent) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (parent) { parent.appendChild(e); }
    return e;
  }

  /* The outline of a node of a family, centred on (0, 0). */
  function shapePath(fam, w, hh) {
    var x = -w / 2, y = -hh / 2, r = w / 2, b = hh / 2, c;
    switch (fam) {
      case "message": return "M" + (x + 10) + "," + y + "H" + r + "L" + (r - 10) + "," + b + "H" + x + "Z";
      case "model":
        c = hh / 2;
        return "M" + (x + c) + "," + y + "H" + (r - c) + "A" + c + "," + c + " 0 0 1 " + (r - c) + "," + b +
          "H" + (x + c) + "A" + c + "," + c + " 0 0 1 " + (x + c) + "," + y + "Z";
      case "result":
        c = 9;
        return "M" + (x + c) + "," + y + "H" + (r - c) + "Q" + r + "," + y + " " + r + "," + (y + c) + "V" + (b - c) +
          "Q" + r + "," + b + " " + (r - c) + "," + b + "H" + (x + c) + "Q" + x + "," + b + " " + x + "," + (b - c) +
          "V" + (y + c) + "Q" + x + "," + y + " " + (x + c) + "," + y + "Z";
      case "file":
        return "M" + x + "," + y + "H" + (r - 12) + "L" + r + "," + (y + 12) + "V" + b + "H" + x + "Z" +
          "M" + (r - 12) + "," + y + "V" + (y + 12) + "H" + r;
      case "memory":
        return "M" + x + "," + (y + 6) + "A" + (w / 2) + ",6 0 0 1 " + r + "," + (y + 6) + "V" + (b - 6) +
          "A" + (w / 2) + ",6 0 0 1 " + x + "," + (b - 6) + "Z" + "M" + x + "," + (y + 6) + "A" + (w / 2) + ",6 0 0 0 " + r + "," + (y + 6);
      case "skill": return "M" + x + ",0L" + (x + 12) + "," + y + "H" + (r - 12) + "L" + r + ",0L" + (r - 12) + "," + b + "H" + (x + 12) + "Z";
      case "egress": return "M" + x + "," + y + "H" + (r - 16) + "L" + r + ",0L" + (r - 16) + "," + b + "H" + x + "Z";
      case "fetch": return "M" + x + "," + y + "H" + r + "V" + b + "H" + x + "L" + (x + 16) + ",0Z";
      case "process": return "M" + x + "," + y + "H" + r + "V" + b + "H" + x + "Z" + "M" + (x + 7) + "," + y + "V" + b;
      case "policy":
        c = 10;
        return "M" + (x + c) + "," + y + "H" + (r - c) + "L" + r + "," + (y + c) + "V" + (b - c) + "L" + (r - c) + "," + b +
          "H" + (x + c) + "L" + x + "," + (b - c) + "V" + (y + c) + "Z";
      default: return "M" + x + "," + y + "H" + r + "V" + b + "H" + x + "Z";
    }
  }

  function truncate(s, n) {
    s = String(s === null || s === undefined ? "" : s).replace(/\s+/g, " ");
    return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
  }

  /* ---------------------------------------------------------------- layout */

  /* The nodes in causal order: by time, except that no event comes before one of its causes.
   * A tool call, what it did and its egress often share one millisecond, and time alone
   * would then put an effect before its call. Kahn's algorithm, always taking the earliest
   * ready node (by time, then index). A cycle is broken at its earliest node that waits only
   * on data-flow edges: content matching can run against the structure (a fetch's URL is
   * found in the arguments of the call that fetched it), emitted/effect/returned cannot. */
  function causalOrder(nodes, edges) {
    var n = nodes.length, k;
    var byTime = nodes.map(function (_, i) { return i; });
    byTime.sort(function (a, b) {
      var ta = nodes[a].ts || "", tb = nodes[b].ts || "";
      return ta < tb ? -1 : ta > tb ? 1 : a - b;
    });
    var rankOf = new Array(n), indeg = new Array(n).fill(0), hard = new Array(n).fill(0), out = [];
    var done = new Array(n).fill(false);
    byTime.forEach(function (v, i) { rankOf[v] = i; });
    for (k = 0; k < n; k++) { out.push([]); }
    edges.forEach(function (e) {
      if (e.s !== e.d && e.s >= 0 && e.d >= 0) {
        var soft = e.kind === "data_flow";
        out[e.s].push([e.d, soft]);
        indeg[e.d]++;
        if (!soft) { hard[e.d]++; }
      }
    });
    var heap = [];
    function less(a, b) { return rankOf[heap[a]] < rankOf[heap[b]]; }
    function swap(a, b) { var t = heap[a]; heap[a] = heap[b]; heap[b] = t; }
    function push(v) {
      heap.push(v);
      for (var c = heap.length - 1; c > 0 && less(c, (c - 1) >> 1); c = (c - 1) >> 1) { swap(c, (c - 1) >> 1); }
    }
    function pop() {
      var top = heap[0], last = heap.pop(), c = 0;
      if (!heap.length) { return top; }
      heap[0] = last;
      for (;;) {
        var l = 2 * c + 1, m = c;
        if (l < heap.length && less(l, m)) { m = l; }
        if (l + 1 < heap.length && less(l + 1, m)) { m = l + 1; }
        if (m === c) { return top; }
        swap(c, m);
        c = m;
      }
    }
    for (k = 0; k < n; k++) { if (indeg[k] === 0) { push(k); } }
    var order = [], next = 0;
    while (order.length < n) {
      var v;
      if (heap.length) {
        v = pop();
      } else {
        while (done[byTime[next]]) { next++; }
        v = byTime[next];
        for (k = next; k < n; k++) {
          if (!done[byTime[k]] && hard[byTime[k]] === 0) { v = byTime[k]; break; }
        }
      }
      if (done[v]) { continue; }
      done[v] = true;
      order.push(v);
      out[v].forEach(function (ws) {
        var w = ws[0];
        if (!ws[1]) { hard[w]--; }
        if (!done[w] && --indeg[w] === 0) { push(w); }
      });
    }
    return order;
  }

  /* Layered layout. Nodes are in causal order; an edge counts for layering only when it runs
   * forward in that order, so the layering never meets a cycle. Layers come from the longest
   * path, then sources are pulled next to their first successor; rows are ordered by
   * barycentre sweeps; a layer taller than MAX_PER_COLUMN wraps into sub-columns. */
  function layout(nodes, edges, viewW, viewH) {
    var n = nodes.length, i, j;
    var order = causalOrder(nodes, edges);
    var pos = new Array(n);
    order.forEach(function (v, k) { pos[v] = k; });
    var preds = [], succs = [];
    for (i = 0; i < n; i++) { preds.push([]); succs.push([]); }
    edges.forEach(function (e) {
      if (e.s === e.d || e.s < 0 || e.d < 0) { return; }
      if (pos[e.s] < pos[e.d]) { preds[e.d].push(e.s); succs[e.s].push(e.d); }
      else { preds[e.s].push(e.d); succs[e.d].push(e.s); }
    });
    var rank = new Array(n).fill(0);
    order.forEach(function (v) {
      preds[v].forEach(function (u) { if (rank[u] + 1 > rank[v]) { rank[v] = rank[u] + 1; } });
    });
    for (j = order.length - 1; j >= 0; j--) {
      var v = order[j];
      if (preds[v].length === 0 && succs[v].length > 0) {
        var m = Infinity;
        succs[v].forEach(function (w) { m = Math.min(m, rank[w] - 1); });
        if (m > rank[v]) { rank[v] = m; }
      }
    }
    var maxRank = 0;
    rank.forEach(function (r) { if (r > maxRank) { maxRank = r; } });
    var layers = [];
    for (i = 0; i <= maxRank; i++) { layers.push([]); }
    order.forEach(function (v) { layers[rank[v]].push(v); });
    layers = layers.filter(function (l) { return l.length > 0; });
    var layerOf = new Array(n);
    layers.forEach(function (l, k) { l.forEach(function (v) { layerOf[v] = k; }); });
    var slot = new Array(n);
    function renumber() { layers.forEach(function (l) { l.forEach(function (v, k) { slot[v] = k / Math.max(1, l.length - 1); }); }); }
    function sweep(l, nbrs) {
      var bary = {};
      l.forEach(function (v) {
        var s = 0, c = 0;
        nbrs[v].forEach(function (u) { if (slot[u] !== undefined) { s += slot[u]; c++; } });
        bary[v] = c ? s / c : slot[v];
      });
      l.sort(function (a, b) { return bary[a] - bary[b] || pos[a] - pos[b]; });
      l.forEach(function (v, k) { slot[v] = k / Math.max(1, l.length - 1); });
    }
    renumber();
    for (var it = 0; it < 6; it++) {
      if (it % 2 === 0) { for (i = 1; i < layers.length; i++) { sweep(layers[i], preds); } }
      else { for (i = layers.length - 2; i >= 0; i--) { sweep(layers[i], succs); } }
    }
    /* Columns first, on one long strip: x within the layer, y continuous across layers. */
    var xy = new Array(n), cols = [];
    var step = NODE_H + ROW_GAP;
    layers.forEach(function (l) {
      var sub = Math.ceil(l.length / MAX_PER_COLUMN), rows = Math.ceil(l.length / sub);
      var ys;
      if (sub === 1) {
        /* Each node at the mean height of its placed predecessors, then pushed apart. */
        var want = l.map(function (v) {
          var s = 0, c = 0;
          preds[v].forEach(function (u) { if (xy[u]) { s += xy[u][1]; c++; } });
          return c ? s / c : NaN;
        });
        var known = want.filter(function (w) { return !isNaN(w); });
        if (!known.length) {
          ys = l.map(function (_, k) { return (k - (l.length - 1) / 2) * step; });
        } else {
          var prev = -Infinity;
          ys = want.map(function (w, k) {
            var y = isNaN(w) ? (k === 0 ? known[0] : prev + step) : w;
            y = Math.max(y, prev + step);
            prev = y;
            return y;
          });
          var shift = 0, cnt = 0;
          want.forEach(function (w, k) { if (!isNaN(w)) { shift += w - ys[k]; cnt++; } });
          shift = cnt ? shift / cnt : 0;
          ys = ys.map(function (y) { return y + shift; });
        }
        l.forEach(function (v, k) { xy[v] = [NODE_W / 2, ys[k]]; });
      } else {
        l.forEach(function (v, k) {
          var col = k % sub, row = Math.floor(k / sub);
          xy[v] = [NODE_W / 2 + col * (NODE_W + SUBCOL_GAP), (row - (rows - 1) / 2) * step + (col % 2) * step / 2];
        });
      }
      var lo = Infinity, hi = -Infinity;
      l.forEach(function (v) { lo = Math.min(lo, xy[v][1]); hi = Math.max(hi, xy[v][1]); });
      cols.push({ nodes: l, width: sub * NODE_W + (sub - 1) * SUBCOL_GAP, lo: lo, hi: hi });
    });
    /* Then wrap the strip into rows, like lines of text, when one row would have to be shrunk
     * past reading: the fewest rows whose scale is READABLE or, when no number of rows gets
     * there, within 15 % of the best scale. */
    function rowsOf(per) {
      var out = [];
      for (var k = 0; k < cols.length; k += per) { out.push(cols.slice(k, k + per)); }
      return out;
    }
    function extent(rws) {
      var w = 0, hgt = 0;
      rws.forEach(function (r) {
        var rw = 0, lo = Infinity, hi = -Infinity;
        r.forEach(function (c) { rw += c.width + LAYER_GAP; lo = Math.min(lo, c.lo); hi = Math.max(hi, c.hi); });
        w = Math.max(w, rw - LAYER_GAP);
        hgt += hi - lo + NODE_H + ROW_BAND_GAP;
      });
      return [w + 80, hgt - ROW_BAND_GAP + 80];
    }
    var scales = [], bestK = 0, per;
    for (per = cols.length; per >= 1; per--) {
      var ex = extent(rowsOf(per));
      scales[per] = Math.min(viewW / ex[0], viewH / ex[1]);
      bestK = Math.max(bestK, scales[per]);
    }
    var best = Math.max(1, cols.length);
    for (per = cols.length; per >= 1; per--) {
      if (scales[per] >= Math.min(READABLE, 0.85 * bestK)) { best = per; break; }
    }
    var top = 0, maxX = NODE_W, rowTop = [];
    rowsOf(best).forEach(function (r, ri) {
      rowTop.push(top);
      var lo = Infinity, hi = -Infinity, x = 0;
      r.forEach(function (c) { lo = Math.min(lo, c.lo); hi = Math.max(hi, c.hi); });
      r.forEach(function (c) {
        c.nodes.forEach(function (v) { xy[v] = [x + xy[v][0], top + NODE_H / 2 + xy[v][1] - lo, ri]; });
        x += c.width + LAYER_GAP;
      });
      maxX = Math.max(maxX, x - LAYER_GAP);
      top += hi - lo + NODE_H + ROW_BAND_GAP;
    });
    if (!n) { top = ROW_BAND_GAP; }
    return { xy: xy, layer: layerOf, rowTop: rowTop, box: [-40, -40, maxX + 80, top - ROW_BAND_GAP + 80] };
  }

  /* An edge to a later row of the wrapped layout runs in the gaps, not across the nodes: right
   * of its source down to the band above the target's row, along the band, and down the gap
   * left of the target (edges into one node share that last stretch, like a bus). */
  function bandPath(sx, sy, tx, ty, band) {
    var r = 10, x1 = sx + 26, x2 = tx - 26, dir = x2 >= x1 ? 1 : -1;
    if (Math.abs(x2 - x1) < 2 * r) { x2 = x1; }
    var p = "M" + sx + "," + sy + "L" + (x1 - r) + "," + sy + "Q" + x1 + "," + sy + " " + x1 + "," + (sy + r);
    if (x2 === x1) {
      p += "L" + x1 + "," + (ty - r);
    } else {
      p += "L" + x1 + "," + (band - r) + "Q" + x1 + "," + band + " " + (x1 + dir * r) + "," + band;
      p += "L" + (x2 - dir * r) + "," + band + "Q" + x2 + "," + band + " " + x2 + "," + (band + r);
      p += "L" + x2 + "," + (ty - r);
    }
    return p + "Q" + x2 + "," + ty + " " + (x2 + r) + "," + ty + "L" + (tx - 4) + "," + ty;
  }

  function edgePath(a, b, rowTop) {
    var sx = a[0] + NODE_W / 2, sy = a[1], tx = b[0] - NODE_W / 2, ty = b[1], dx;
    if (b[2] > a[2] && rowTop) {
      return bandPath(sx, sy, tx, ty, rowTop[b[2]] - ROW_BAND_GAP / 2);
    }
    if (tx > sx + 10 || a[2] !== b[2]) {
      /* Forward in one row, or back to an earlier row (a cycle): leave right, enter left. */
      dx = tx > sx + 10 ? Math.max(40, (tx - sx) * 0.5) : 90;
      return "M" + sx + "," + sy + "C" + (sx + dx) + "," + sy + " " + (tx - dx) + "," + ty + " " + (tx - 4) + "," + ty;
    }
    /* Same column or backwards: loop below the nodes. */
    var x1 = a[0], y1 = a[1] + NODE_H / 2, x2 = b[0], y2 = b[1] + NODE_H / 2, dip = Math.max(y1, y2) + 60;
    return "M" + x1 + "," + y1 + "C" + x1 + "," + dip + " " + x2 + "," + dip + " " + x2 + "," + (y2 + 4);
  }

  /* ---------------------------------------------------------------- text helpers */

  function evidenceText(ev) {
    if (ev === null || ev === undefined) { return "no evidence recorded"; }
    if (typeof ev !== "object") { return String(ev); }
    var parts = [];
    if (ev.matched_bytes !== undefined) {
      parts.push("~" + ev.matched_bytes + " bytes matched" + (ev.encoding && ev.encoding !== "raw" ? " after " + ev.encoding + " decoding" : ""));
      if (ev.from || ev.to) { parts.push((ev.from || "?") + " \u2192 " + (ev.to || "?")); }
    }
    if (ev.via) { parts.push("via " + ev.via); }
    if (ev.note) { parts.push(ev.note); }
    if (ev.artifact) { parts.push(ev.artifact); }
    var rest = {};
    Object.keys(ev).forEach(function (k) {
      if (["matched_bytes", "encoding", "from", "to", "via", "note", "artifact"].indexOf(k) < 0) { rest[k] = ev[k]; }
    });
    if (Object.keys(rest).length) { parts.push(JSON.stringify(rest)); }
    return parts.join("\n");
  }

  function shortId(id) { return String(id).slice(0, 12); }

  /* ---------------------------------------------------------------- the viewer */

  function Graph(container, data) {
    var self = this;
    this.container = container;
    this.data = data;
    var nodes = data.nodes || [], index = {};
    nodes.forEach(function (nd, k) { index[nd.id] = k; });
    var edges = (data.edges || []).map(function (e) {
      return { src: e.src, dst: e.dst, kind: e.kind, confidence: e.confidence, evidence: e.evidence,
        s: index[e.src] === undefined ? -1 : index[e.src], d: index[e.dst] === undefined ? -1 : index[e.dst] };
    }).filter(function (e) { return e.s >= 0 && e.d >= 0; });
    this.nodes = nodes; this.edges = edges; this.index = index;

    container.textContent = "";
    var bar = h("div", "ct-toolbar", null, container);
    h("div", "ct-title", data.title || "clawtrace causal graph", bar);
    var roots = nodes.filter(function (nd) { return nd.root; }).length;
    var sens = nodes.filter(function (nd) { return nd.sensitive; }).length;
    h("div", "ct-stats", nodes.length + " events \u00b7 " + edges.length + " edges \u00b7 " + roots + " root cause" +
      (roots === 1 ? "" : "s") + " \u00b7 " + sens + " sensitive source" + (sens === 1 ? "" : "s") +
      (data.truncated ? " \u00b7 truncated (raise --max-nodes)" : ""), bar);
    var tools = h("div", "ct-tools", null, bar);
    var search = h("input", null, null, tools);
    search.type = "search"; search.placeholder = "search events\u2026"; search.setAttribute("aria-label", "search events");
    var lab = h("label", null, null, tools);
    var ctxBox = h("input", null, null, lab);
    ctxBox.type = "checkbox"; ctxBox.checked = true;
    lab.appendChild(document.createTextNode(" context edges"));
    var fitBtn = h("button", "ct-btn", "Fit", tools);
    var inBtn = h("button", "ct-btn", "+", tools);
    var outBtn = h("button", "ct-btn", "\u2212", tools);

    var main = h("div", "ct-main", null, container);
    var canvas = h("div", "ct-canvas", null, main);
    this.details = h("aside", "ct-details", null, main);
    var svg = el("svg", { role: "img", "aria-label": "causal graph" }, canvas);
    this.svg = svg;
    var defs = el("defs", null, svg);
    EDGE_KINDS.concat([["other", ""]]).forEach(function (k) {
      var mk = el("marker", { id: self.uid("arrow-" + k[0]), viewBox: "0 0 10 10", refX: "9", refY: "5",
        markerUnits: "userSpaceOnUse", markerWidth: "10", markerHeight: "10", orient: "auto-start-reverse", "class": "k-" + k[0] }, defs);
      el("path", { d: "M0,0L10,5L0,10z", "class": "ct-arrowhead" }, mk);
    });
    this.tooltip = h("div", "ct-tooltip", null, canvas);
    this.viewport = el("g", { "class": "ct-viewport" }, svg);
    var edgeLayer = el("g", { "class": "ct-edges" }, this.viewport);
    var nodeLayer = el("g", { "class": "ct-nodes" }, this.viewport);

    var vr = canvas.getBoundingClientRect();
    var lay = layout(nodes, edges, vr.width || 1000, vr.height || 640);
    this.box = lay.box; this.xy = lay.xy;
    this.edgeEls = edges.map(function (e) {
      var kind = KNOWN_EDGE[e.kind] ? e.kind : "other";
      var g = el("g", { "class": "ct-edge k-" + kind, "data-src": e.src, "data-dst": e.dst, "data-kind": e.kind }, edgeLayer);
      var d = edgePath(lay.xy[e.s], lay.xy[e.d], lay.rowTop);
      var line = el("path", { d: d, "class": "ct-line", "marker-end": "url(#" + self.uid("arrow-" + kind) + ")" }, g);
      var conf = typeof e.confidence === "number" ? e.confidence : 1;
      line.style.opacity = String(0.35 + 0.65 * Math.max(0, Math.min(1, conf)));
      el("path", { d: d, "class": "ct-hit" }, g);
      g.addEventListener("mouseenter", function (ev) {
        self.showTip(ev, e.kind + "  \u00b7  confidence " + conf + "\n" + self.label(e.src) + "\n  \u2192 " + self.label(e.dst) + "\n\n" + evidenceText(e.evidence));
      });
      g.addEventListener("mousemove", function (ev) { self.moveTip(ev); });
      g.addEventListener("mouseleave", function () { self.hideTip(); });
      return g;
    });
    this.nodeEls = nodes.map(function (nd, k) {
      var fam = family(nd.kind);
      var cls = "ct-node fam-" + fam + (nd.root ? " is-root" : "") + (nd.sensitive ? " is-sensitive" : "") + (nd.target ? " is-target" : "");
      var g = el("g", { "class": cls, "data-id": nd.id, "data-kind": nd.kind, "data-layer": lay.layer[k], "data-row": lay.xy[k][2], transform: "translate(" + lay.xy[k][0] + "," + lay.xy[k][1] + ")" }, nodeLayer);
      var d = shapePath(fam, NODE_W, NODE_H);
      if (nd.root || nd.sensitive || nd.target) { el("path", { d: d, "class": "ct-halo" }, g); }
      el("path", { d: d, "class": "ct-shape" }, g);
      var head = nd.kind + (nd.tool_name ? " \u00b7 " + nd.tool_name : "") + (nd.trust === "untrusted" ? " \u00b7 untrusted" : "");
      var t1 = el("text", { x: -NODE_W / 2 + 14, y: -5, "class": "ct-kind" }, g);
      t1.textContent = truncate(head, 30);
      var t2 = el("text", { x: -NODE_W / 2 + 14, y: 11, "class": "ct-sum" }, g);
      t2.textContent = truncate(nd.summary || nd.artifact || nd.id, 29);
      var badges = [];
      if (nd.target) { badges.push(["target", data.direction === "impact" ? "ORIGIN" : "TARGET"]); }
      if (nd.root) { badges.push(["root", "ROOT CAUSE"]); }
      if (nd.sensitive) { badges.push(["sensitive", nd.sensitivity === "credential" ? "CREDENTIAL" : "SECRET"]); }
      var bx = -NODE_W / 2 + 6;
      badges.forEach(function (b) {
        var bg = el("g", { "class": "ct-badge " + b[0] }, g);
        var bw = b[1].length * 6.4 + 12;
        el("rect", { x: bx, y: -NODE_H / 2 - 9, width: bw, height: 14, rx: 7 }, bg);
        var bt = el("text", { x: bx + 6, y: -NODE_H / 2 + 1.5 }, bg);
        bt.textContent = b[1];
        bx += bw + 4;
      });
      g.addEventListener("mouseenter", function (ev) {
        self.showTip(ev, nd.kind + "  " + (nd.ts || "") + "\n" + (nd.summary || "") + (nd.artifact ? "\n" + nd.artifact : "") + "\n(click for details)");
      });
      g.addEventListener("mousemove", function (ev) { self.moveTip(ev); });
      g.addEventListener("mouseleave", function () { self.hideTip(); });
      g.addEventListener("click", function (ev) {
        ev.stopPropagation();
        if (self.dragged) { return; }
        self.select(nd.id, false);
      });
      return g;
    });

    /* Zoom and pan. */
    this.view = { x: 0, y: 0, k: 1 };
    var drag = null;
    svg.addEventListener("wheel", function (ev) {
      ev.preventDefault();
      var r = svg.getBoundingClientRect();
      self.zoomAt(ev.clientX - r.left, ev.clientY - r.top, Math.exp(-ev.deltaY * 0.0015));
    }, { passive: false });
    svg.addEventListener("pointerdown", function (ev) {
      if (ev.button !== 0) { return; }
      drag = { x: ev.clientX, y: ev.clientY, vx: self.view.x, vy: self.view.y, moved: false, id: ev.pointerId };
      self.dragged = false;
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!drag) { return; }
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) > 4) {
        drag.moved = true;
        svg.classList.add("ct-panning");
        try { svg.setPointerCapture(drag.id); } catch (err) { /* the pointer is gone */ }
      }
      if (drag.moved) {
        self.view.x = drag.vx + dx; self.view.y = drag.vy + dy; self.apply();
      }
    });
    function endDrag() {
      if (drag && drag.moved) { self.dragged = true; setTimeout(function () { self.dragged = false; }, 0); }
      drag = null;
      svg.classList.remove("ct-panning");
    }
    svg.addEventListener("pointerup", endDrag);
    svg.addEventListener("pointercancel", endDrag);
    svg.addEventListener("click", function () { if (!self.dragged) { self.select(null, false); } });
    fitBtn.addEventListener("click", function () { self.fit(); });
    inBtn.addEventListener("click", function () { self.zoomCenter(1.3); });
    outBtn.addEventListener("click", function () { self.zoomCenter(1 / 1.3); });
    ctxBox.addEventListener("change", function () { svg.classList.toggle("hide-consumed", !ctxBox.checked); });
    search.addEventListener("input", function () { self.search(search.value); });
    search.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && self.matches && self.matches.length) {
        self.matchAt = ((self.matchAt || 0) + 1) % self.matches.length;
        self.select(self.matches[self.matchAt], true);
      }
    });
    if (typeof ResizeObserver !== "undefined") {
      var first = true;
      new ResizeObserver(function () { if (first) { first = false; self.fit(); } }).observe(canvas);
    }
    this.fit();
    this.select(null, false);
    container.setAttribute("data-rendered", String(nodes.length));
  }

  Graph.counter = 0;

  Graph.prototype.uid = function (name) {
    if (!this._uid) { Graph.counter += 1; this._uid = "ctg" + Graph.counter; }
    return this._uid + "-" + name;
  };

  Graph.prototype.label = function (id) {
    var nd = this.nodes[this.index[id]];
    return nd ? nd.kind + " " + shortId(nd.id) + "  " + truncate(nd.summary || "", 60) : String(id);
  };

  Graph.prototype.buildLegend = function (parent) {
    var box = h("details", "ct-legend", null, parent);
    box.open = true;
    h("summary", null, "Legend", box);
    var grid = h("div", "ct-legend-grid", null, box);
    h("h5", null, "Events", grid);
    var used = {};
    this.nodes.forEach(function (nd) { used[family(nd.kind)] = true; });
    FAMILIES.forEach(function (f) {
      if (!used[f[0]] && f[0] === "other") { return; }
      var item = h("div", "ct-legend-item", null, grid);
      var s = el("svg", { width: "34", height: "16", viewBox: "-20 -9 40 18" }, null);
      var g = el("g", { "class": "ct-node fam-" + f[0] }, s);
      el("path", { d: shapePath(f[0], 36, 14), "class": "ct-shape" }, g);
      item.appendChild(s);
      h("span", null, f[1], item);
    });
    h("h5", null, "Highlights", grid);
    [["root", "is-root", "root cause (untrusted origin)"], ["sensitive", "is-sensitive", "sensitive source (secret, credential)"],
      ["target", "is-target", this.data.direction === "impact" ? "where the impact starts" : "the event explained"]].forEach(function (x) {
      var item = h("div", "ct-legend-item wide", null, grid);
      var s = el("svg", { width: "34", height: "16", viewBox: "-20 -9 40 18" }, null);
      var g = el("g", { "class": "ct-node fam-other " + x[1] }, s);
      el("path", { d: shapePath("other", 34, 12), "class": "ct-halo" }, g);
      el("path", { d: shapePath("other", 34, 12), "class": "ct-shape" }, g);
      item.appendChild(s);
      h("span", null, x[2], item);
    });
    h("h5", null, "Edges (hover one for its evidence and confidence)", grid);
    var self = this;
    EDGE_KINDS.forEach(function (k) {
      var item = h("div", "ct-legend-item wide", null, grid);
      var s = el("svg", { width: "34", height: "12", viewBox: "0 0 34 12" }, null);
      var g = el("g", { "class": "ct-edge k-" + k[0] }, s);
      el("path", { d: "M2,6H26", "class": "ct-line", "marker-end": "url(#" + self.uid("arrow-" + k[0]) + ")" }, g);
      item.appendChild(s);
      h("span", null, k[1], item);
    });
  };

  Graph.prototype.apply = function () {
    var v = this.view;
    this.viewport.setAttribute("transform", "translate(" + v.x + "," + v.y + ") scale(" + v.k + ")");
    this.svg.classList.toggle("lod-mid", v.k < 0.55);
    this.svg.classList.toggle("lod-low", v.k < 0.28);
  };

  Graph.prototype.size = function () {
    var r = this.svg.getBoundingClientRect();
    return [r.width || 800, r.height || 600];
  };

  Graph.prototype.fit = function () {
    var wh = this.size(), b = this.box;
    var k = Math.min(wh[0] / b[2], wh[1] / b[3], 1.25);
    this.view = { k: k, x: (wh[0] - b[2] * k) / 2 - b[0] * k, y: (wh[1] - b[3] * k) / 2 - b[1] * k };
    this.apply();
  };

  Graph.prototype.zoomAt = function (px, py, f) {
    var v = this.view, k = Math.max(0.05, Math.min(4, v.k * f));
    f = k / v.k;
    this.view = { k: k, x: px - (px - v.x) * f, y: py - (py - v.y) * f };
    this.apply();
  };

  Graph.prototype.zoomCenter = function (f) {
    var wh = this.size();
    this.zoomAt(wh[0] / 2, wh[1] / 2, f);
  };

  Graph.prototype.centerOn = function (id) {
    var k = this.index[id];
    if (k === undefined) { return; }
    var wh = this.size(), p = this.xy[k], z = Math.max(this.view.k, 0.8);
    this.view = { k: z, x: wh[0] / 2 - p[0] * z, y: wh[1] / 2 - p[1] * z };
    this.apply();
  };

  Graph.prototype.showTip = function (ev, text) {
    this.tooltip.textContent = text;
    this.tooltip.style.display = "block";
    this.moveTip(ev);
  };

  Graph.prototype.moveTip = function (ev) {
    var r = this.svg.getBoundingClientRect(), t = this.tooltip;
    var x = ev.clientX - r.left + 14, y = ev.clientY - r.top + 14;
    if (x + t.offsetWidth > r.width) { x = Math.max(0, ev.clientX - r.left - t.offsetWidth - 10); }
    if (y + t.offsetHeight > r.height) { y = Math.max(0, ev.clientY - r.top - t.offsetHeight - 10); }
    t.style.left = x + "px"; t.style.top = y + "px";
  };

  Graph.prototype.hideTip = function () { this.tooltip.style.display = "none"; };

  Graph.prototype.search = function (q) {
    q = q.trim().toLowerCase();
    var self = this;
    this.matches = []; this.matchAt = -1;
    this.nodes.forEach(function (nd, k) {
      var hay = [nd.id, nd.kind, nd.summary, nd.artifact, nd.tool_name, nd.session_id].join(" ").toLowerCase();
      var hit = q !== "" && hay.indexOf(q) >= 0;
      self.nodeEls[k].classList.toggle("is-match", hit);
      if (hit) { self.matches.push(nd.id); }
    });
    this.svg.classList.toggle("ct-searching", q !== "");
  };

  Graph.prototype.select = function (id, center) {
    var self = this;
    this.nodeEls.forEach(function (g) { g.classList.remove("is-selected", "is-near"); });
    this.edgeEls.forEach(function (g) { g.classList.remove("is-near"); });
    var k = id === null ? undefined : this.index[id];
    if (k === undefined) {
      this.svg.classList.remove("ct-focus");
      this.details.removeAttribute("data-event-id");
      this.overview();
      return;
    }
    this.svg.classList.add("ct-focus");
    this.nodeEls[k].classList.add("is-selected", "is-near");
    this.edges.forEach(function (e, j) {
      if (e.s === k || e.d === k) {
        self.edgeEls[j].classList.add("is-near");
        self.nodeEls[e.s].classList.add("is-near");
        self.nodeEls[e.d].classList.add("is-near");
      }
    });
    if (center) { this.centerOn(id); }
    this.showDetails(this.nodes[k]);
  };

  Graph.prototype.linkList = function (parent, title, items) {
    if (!items.length) { return; }
    var self = this;
    h("h4", null, title, parent);
    items.forEach(function (it) {
      var b = h("button", "ct-link", null, parent);
      b.type = "button";
      b.setAttribute("data-goto", it.id);
      h("span", null, it.text, b);
      if (it.note) { b.appendChild(document.createElement("br")); h("small", null, it.note, b); }
      b.addEventListener("click", function () { self.select(it.id, true); });
    });
  };

  Graph.prototype.overview = function () {
    var d = this.details, self = this;
    d.textContent = "";
    h("h3", null, "Click an event to see its details", d);
    h("p", "ct-hint", "Drag to pan, scroll to zoom, hover an edge for its evidence. Untick \u201ccontext edges\u201d to see only evidence.", d);
    function item(nd) { return { id: nd.id, text: nd.kind + "  " + shortId(nd.id), note: truncate(nd.summary || nd.artifact || "", 90) }; }
    this.linkList(d, this.data.direction === "impact" ? "Origin" : "Target", this.nodes.filter(function (nd) { return nd.target; }).map(item));
    this.linkList(d, "Root causes", this.nodes.filter(function (nd) { return nd.root; }).map(item));
    this.linkList(d, "Sensitive sources", this.nodes.filter(function (nd) { return nd.sensitive; }).map(item));
    self.buildLegend(d);
  };

  Graph.prototype.command = function (parent, text) {
    var row = h("div", "ct-cmd", null, parent);
    h("code", null, text, row);
    var b = h("button", "ct-btn", "Copy", row);
    b.type = "button";
    b.addEventListener("click", function () {
      function done() { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1200); }
      function fallback() {
        var ta = document.createElement("textarea");
        ta.value = text; ta.style.position = "fixed"; ta.style.opacity = "0";
        document.body.appendChild(ta); ta.select();
        try { document.execCommand("copy"); done(); } catch (err) { b.textContent = "Select and copy"; }
        document.body.removeChild(ta);
      }
      if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(text).then(done, fallback); }
      else { fallback(); }
    });
  };

  Graph.prototype.showDetails = function (nd) {
    var d = this.details, self = this;
    d.textContent = "";
    d.setAttribute("data-event-id", nd.id);
    var flags = h("div", null, null, d);
    if (nd.target) { h("span", "ct-flag target", this.data.direction === "impact" ? "ORIGIN" : "TARGET", flags); }
    if (nd.root) { h("span", "ct-flag root", "ROOT CAUSE", flags); }
    if (nd.sensitive) { h("span", "ct-flag sensitive", (nd.sensitivity || "sensitive").toUpperCase() + (nd.carried ? " \u00b7 reached the target" : ""), flags); }
    if (nd.trust === "untrusted") { h("span", "ct-flag untrusted", "UNTRUSTED", flags); }
    h("h3", null, nd.kind + (nd.tool_name ? " \u00b7 " + nd.tool_name : ""), d);
    h("p", null, nd.summary || "", d);
    var tbl = h("table", null, null, d);
    var fields = [["event_id", nd.id], ["ts", nd.ts], ["session", nd.session_id], ["agent", nd.agent_id], ["artifact", nd.artifact],
      ["trust", nd.trust], ["sensitivity", nd.sensitivity], ["source", nd.source], ["score", nd.score]];
    var det = nd.details || {};
    Object.keys(det).forEach(function (k) { if (k !== "attrs") { fields.push([k, det[k]]); } });
    fields.forEach(function (f) {
      if (f[1] === null || f[1] === undefined || f[1] === "" || (Array.isArray(f[1]) && !f[1].length)) { return; }
      var tr = h("tr", null, null, tbl);
      h("td", null, f[0], tr);
      h("td", null, Array.isArray(f[1]) ? f[1].join("\n") : (typeof f[1] === "object" ? JSON.stringify(f[1]) : f[1]), tr);
    });
    h("h4", null, "Next commands", d);
    this.command(d, "clawtrace why " + nd.id);
    this.command(d, "clawtrace show " + nd.id);
    this.command(d, "clawtrace impact " + nd.id);
    var ins = [], outs = [];
    this.edges.forEach(function (e) {
      if (e.dst === nd.id) { ins.push({ id: e.src, text: e.kind + " \u2190 " + self.label(e.src), note: evidenceText(e.evidence).split("\n")[0] }); }
      if (e.src === nd.id) { outs.push({ id: e.dst, text: e.kind + " \u2192 " + self.label(e.dst), note: evidenceText(e.evidence).split("\n")[0] }); }
    });
    this.linkList(d, "Caused by (" + ins.length + ")", ins);
    this.linkList(d, "Led to (" + outs.length + ")", outs);
    if (det.attrs && typeof det.attrs === "object" && Object.keys(det.attrs).length) {
      h("h4", null, "Attributes", d);
      h("pre", null, JSON.stringify(det.attrs, null, 2), d);
    }
  };

  function boot() {
    var boxes = document.querySelectorAll(".ct-graph[data-graph]");
    Array.prototype.forEach.call(boxes, function (box) {
      var src = document.getElementById(box.getAttribute("data-graph"));
      if (!src) { return; }
      box.clawtraceGraph = new Graph(box, JSON.parse(src.textContent));
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", boot); } else { boot(); }
}());
