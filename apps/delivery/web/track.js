// The customer's tracking page: draws the city (offline, or over map tiles when ?tiles= names a
// tile URL template), negotiates through the `negotiate` function for its order, and moves the
// courier marker with each `location` message the server sends to the order's group.
//
// Query parameters: order (or orderid) — the order to track; token — the signed tracking token of
// the order's link (the credential: the order id alone grants nothing); api — base URL of the
// functions (default /api); tiles — e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; zoom — tile zoom (16).
(() => {
  const params = new URLSearchParams(location.search);
  const orderId = params.get('order') ?? params.get('orderid') ?? '';
  const token = params.get('token') ?? '';
  const apiBase = params.get('api') ?? '/api';
  const tileUrl = params.get('tiles');
  const zoom = Number(params.get('zoom') ?? 16);
  const SVG = 'http://www.w3.org/2000/svg';
  const MAX_MESSAGES = 200;

  const $ = (id) => document.getElementById(id);
  const svgEl = (name, attrs = {}, parent) => {
    const el = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    if (parent) parent.appendChild(el);
    return el;
  };

  // ── projection: Web Mercator pixels at `zoom`, shifted so the city's north-west corner is 0,0 ──
  const world = 256 * 2 ** zoom;
  const mercX = (lng) => ((lng + 180) / 360) * world;
  const mercY = (lat) => {
    const s = Math.sin((lat * Math.PI) / 180);
    return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * world;
  };
  let origin = [0, 0];
  const project = ([lat, lng]) => [mercX(lng) - origin[0], mercY(lat) - origin[1]];
  const pointsOf = (path) => path.map((p) => project(p).join(',')).join(' ');

  const distanceM = (a, b) => {
    const r = (d) => (d * Math.PI) / 180;
    const h =
      Math.sin(r(b[0] - a[0]) / 2) ** 2 + Math.cos(r(a[0])) * Math.cos(r(b[0])) * Math.sin(r(b[1] - a[1]) / 2) ** 2;
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
  };

  // ── the map: the viewBox frames the city's bounds; streets run past them to fill wide windows ──
  function drawCity(city) {
    const { north, south, east, west } = city.bounds;
    origin = [mercX(west), mercY(north)];
    const [w, h] = project([south, east]);
    $('map').setAttribute('viewBox', `0 0 ${w.toFixed(1)} ${h.toFixed(1)}`);
    const base = $('base');
    svgEl('rect', { x: -5 * w, y: -5 * h, width: 11 * w, height: 11 * h, fill: 'var(--land)' }, base);
    for (const park of city.parks) {
      svgEl('polygon', { class: 'park', points: pointsOf(park.path) }, base);
      const xs = park.path.map((p) => project(p));
      const cx = xs.reduce((s, p) => s + p[0], 0) / xs.length;
      const cy = xs.reduce((s, p) => s + p[1], 0) / xs.length;
      svgEl('text', { class: 'park-label', x: cx, y: cy }, base).textContent = park.name;
    }
    const streets = [...city.streets].sort((a, b) => Number(Boolean(a.major)) - Number(Boolean(b.major)));
    for (const s of streets)
      svgEl('polyline', { class: `casing${s.major ? ' major' : ''}`, points: pointsOf(s.path) }, base);
    for (const s of streets)
      svgEl('polyline', { class: `street${s.major ? ' major' : ''}`, points: pointsOf(s.path) }, base);
    labelStreets(base, city.streets, w, h);
    if (tileUrl) {
      drawTiles();
      let pending;
      addEventListener('resize', () => {
        clearTimeout(pending);
        pending = setTimeout(drawTiles, 200);
      });
    }
  }

  /**
   * Labels each straight street twice inside the framed bounds (width w, height h), in the middle
   * of a block so labels of crossing streets don't meet, staggered from street to street.
   */
  function labelStreets(parent, streets, w, h) {
    const lines = streets.map((street) => {
      const [a, b] = street.path.map(project);
      return { street, a, b, vertical: Math.abs(b[1] - a[1]) > Math.abs(b[0] - a[0]) };
    });
    const middles = (values, size) => {
      const sorted = values.filter((v) => v > 0 && v < size).sort((x, y) => x - y);
      return sorted.slice(1).map((v, i) => (v + sorted[i]) / 2);
    };
    const rows = middles(
      lines.filter((l) => !l.vertical).map((l) => l.a[1]),
      h,
    );
    const columns = middles(
      lines.filter((l) => l.vertical).map((l) => l.a[0]),
      w,
    );
    lines.forEach(({ street, a, b, vertical }, i) => {
      const cls = `street-label${street.major ? ' major' : ''}`;
      const slots = vertical ? rows : columns;
      for (const t of [0.22, 0.64]) {
        const at = slots[Math.min(slots.length - 1, Math.floor(slots.length * t) + (i % 2))];
        if (at === undefined) continue;
        if (vertical) {
          const x = a[0] + ((b[0] - a[0]) * (at - a[1])) / (b[1] - a[1]) + 4;
          const text = svgEl(
            'text',
            { class: `${cls} vertical`, x, y: at, transform: `rotate(90 ${x} ${at})` },
            parent,
          );
          text.textContent = street.name;
        } else {
          const y = a[1] + ((b[1] - a[1]) * (at - a[0])) / (b[0] - a[0]) + 4;
          svgEl('text', { class: `${cls} horizontal`, x: at, y }, parent).textContent = street.name;
        }
      }
    });
  }

  /** Places the tiles that cover what the map shows (the bounds, and more in a wider or taller window). */
  function drawTiles() {
    const tiles = $('tiles');
    tiles.replaceChildren();
    const map = $('map');
    const box = map.viewBox.baseVal;
    const { width, height } = map.getBoundingClientRect();
    const scale = Math.min(width / box.width, height / box.height) || 1;
    const [vw, vh] = [width / scale, height / scale];
    const left = origin[0] + box.x - (vw - box.width) / 2;
    const top = origin[1] + box.y - (vh - box.height) / 2;
    const [x0, x1] = [Math.floor(left / 256), Math.floor((left + vw) / 256)];
    const [y0, y1] = [Math.floor(top / 256), Math.floor((top + vh) / 256)];
    for (let x = x0; x <= x1; x++) {
      for (let y = y0; y <= y1; y++) {
        const href = tileUrl.replace('{z}', String(zoom)).replace('{x}', String(x)).replace('{y}', String(y));
        svgEl('image', { href, x: x * 256 - origin[0], y: y * 256 - origin[1], width: 256, height: 256 }, tiles);
      }
    }
    document.body.classList.add('tiles-on');
    $('attribution').textContent = `Tiles: ${new URL(tileUrl.replace(/[{}]/g, ''), location.href).host}`;
  }

  function pin(kind, glyph, name, at) {
    const [x, y] = project(at);
    const g = svgEl('g', { class: `pin ${kind}`, transform: `translate(${x} ${y})` }, $('pins'));
    svgEl('circle', { r: 13 }, g);
    svgEl('text', { class: 'glyph' }, g).textContent = glyph;
    svgEl('text', { class: 'label', x: 0, y: -20 }, g).textContent = name;
  }

  // ── the courier marker, moving smoothly from where it is drawn to each new position ──
  const marker = { drawn: undefined, from: undefined, to: undefined, start: 0, duration: 0 };
  const trail = [];

  function placeMarker([x, y]) {
    marker.drawn = [x, y];
    $('courier').setAttribute('transform', `translate(${x.toFixed(1)} ${y.toFixed(1)})`);
  }

  function frame(now) {
    const t = marker.duration === 0 ? 1 : Math.min(1, (now - marker.start) / marker.duration);
    const [fx, fy] = marker.from;
    const [tx, ty] = marker.to;
    placeMarker([fx + (tx - fx) * t, fy + (ty - fy) * t]);
    if (t < 1) requestAnimationFrame(frame);
  }

  function moveCourier(lat, lng) {
    const to = project([lat, lng]);
    const el = $('courier');
    el.dataset.lat = String(lat);
    el.dataset.lng = String(lng);
    if (marker.drawn === undefined) {
      el.setAttribute('visibility', 'visible');
      marker.from = to;
      marker.to = to;
      placeMarker(to);
    } else {
      marker.from = marker.drawn;
      marker.to = to;
      marker.start = performance.now();
      marker.duration = 800;
      requestAnimationFrame(frame);
    }
    trail.push(to);
    $('trail').setAttribute('points', trail.map((p) => p.map((n) => n.toFixed(1)).join(',')).join(' '));
  }

  // ── the message list and order card ──
  let count = 0;
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

  function listMessage(loc) {
    count += 1;
    $('count').textContent = String(count);
    $('empty').hidden = true;
    const li = document.createElement('li');
    const time = document.createElement('time');
    const when = new Date(loc.timestamp);
    time.dateTime = when.toISOString();
    time.textContent = timeFormat.format(when);
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = `${Number(loc.lat).toFixed(5)}, ${Number(loc.longitude).toFixed(5)}`;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = `${loc.courierid ?? 'courier'} · from store ${loc.storeid ?? '?'}`;
    li.dataset.order = String(loc.orderid);
    li.append(time, where, who);
    const list = $('messages');
    list.prepend(li);
    while (list.children.length > MAX_MESSAGES) list.lastElementChild.remove();
  }

  let destination;
  function onLocation(loc) {
    if (typeof loc !== 'object' || loc === null || !Number.isFinite(loc.lat) || !Number.isFinite(loc.longitude)) return;
    moveCourier(loc.lat, loc.longitude);
    listMessage(loc);
    $('courier-name').textContent = loc.courierid ?? 'on the way';
    if (destination) {
      const m = distanceM([loc.lat, loc.longitude], destination);
      $('distance').textContent =
        m < 25 ? 'arrived' : m < 1000 ? `${Math.round(m / 10) * 10} m away` : `${(m / 1000).toFixed(1)} km away`;
    }
  }

  function setStatus(state, text) {
    const el = $('status');
    el.dataset.state = state;
    el.textContent = text;
  }

  /** A link that tracks nothing: offline, and no courier to wait for. */
  function refused(text) {
    setStatus('offline', text);
    $('courier-name').textContent = '—';
  }

  // ── start ──
  async function main() {
    const city = await fetch('city.json').then((r) => r.json());
    drawCity(city);
    if (orderId === '' || token === '') {
      // Without its token a link tracks nothing: nothing of the order is shown, and no connection is tried.
      refused(orderId === '' ? 'No order' : 'This tracking link is incomplete');
      const list = $('picker-orders');
      const demo = await fetch(`${apiBase}/demo-orders`)
        .then((r) => (r.ok ? r.json() : { orders: [] }))
        .catch(() => ({ orders: [] }));
      for (const { orderid, token: demoToken } of demo.orders) {
        const o = city.orders.find((x) => x.orderid === orderid);
        const store = o && city.stores.find((s) => s.storeid === o.storeid);
        const li = document.createElement('li');
        const a = document.createElement('a');
        a.href = `?order=${encodeURIComponent(orderid)}&token=${encodeURIComponent(demoToken)}`;
        a.textContent = `Order ${orderid} · ${store ? store.name : 'store'} → ${o ? o.customer.name : 'customer'}`;
        li.append(a);
        list.append(li);
      }
      if (demo.orders.length === 0) {
        const li = document.createElement('li');
        li.textContent = 'Open the tracking link of your order.';
        list.append(li);
      }
      $('picker').hidden = false;
      return;
    }
    $('title').textContent = `Order #${orderId}`;
    document.title = `Order #${orderId} · Hubbub Delivery`;
    // The order's route, restaurant and customer are drawn once the server accepted the link's token.
    let shown = false;
    const showOrder = () => {
      if (shown) return;
      shown = true;
      const order = city.orders.find((o) => o.orderid === orderId);
      if (!order) return;
      const store = city.stores.find((s) => s.storeid === order.storeid);
      svgEl('polyline', { class: 'planned', points: pointsOf(order.route) }, $('route'));
      if (store) {
        pin('store', 'R', store.name, store.at);
        $('store').textContent = store.name;
      }
      pin('customer', 'H', 'You', order.customer.at);
      $('customer').textContent = order.customer.name;
      destination = order.customer.at;
    };

    const connection = new signalR.HubConnectionBuilder()
      .withUrl(`${apiBase}?orderid=${encodeURIComponent(orderId)}&token=${encodeURIComponent(token)}`)
      .withAutomaticReconnect()
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    connection.on('location', onLocation);
    connection.onreconnecting(() => setStatus('reconnecting', 'Reconnecting…'));
    connection.onreconnected(() => setStatus('live', 'Live'));
    connection.onclose(() => {
      setStatus('offline', 'Offline — retrying');
      setTimeout(connect, 3000);
    });
    async function connect() {
      try {
        setStatus('connecting', 'Connecting…');
        await connection.start();
        showOrder();
        setStatus('live', 'Live');
      } catch (err) {
        // The client wraps the negotiate function's 401 in its own error and keeps only the status in the text.
        if (err && (err.statusCode === 401 || /Status code '401'/.test(String(err.message)))) {
          refused('This tracking link is not valid or has expired');
          return;
        }
        setStatus('offline', 'Offline — retrying');
        setTimeout(connect, 3000);
      }
    }
    await connect();
  }

  main().catch((err) => setStatus('offline', `Error: ${err.message}`));
})();
