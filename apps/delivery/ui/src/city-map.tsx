/**
 * The offline city map (`/city.json`, the tracking page's street plan) drawn as SVG in Web
 * Mercator, the projection of track.js: pins for the restaurant and the delivery address, the
 * courier gliding to each position with the trail behind it, and, when `onPick` is given, a click
 * that picks a point (the checkout's delivery address). The operations board draws many pins (each
 * with its own `id`) and every courier (`couriers`).
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LatLng } from './api.ts';

interface City {
  bounds: { north: number; south: number; east: number; west: number };
  streets: { name: string; path: [number, number][]; major?: boolean }[];
  parks: { name: string; path: [number, number][] }[];
}

let cityPromise: Promise<City> | undefined;
/** The street plan, fetched once (the service worker keeps it for offline use). */
export function loadCity(): Promise<City> {
  cityPromise ??= fetch('/city.json').then((r) => {
    if (!r.ok) throw new Error(`city.json: ${r.status}`);
    return r.json() as Promise<City>;
  });
  cityPromise.catch(() => (cityPromise = undefined));
  return cityPromise;
}

const ZOOM = 16;
const WORLD = 256 * 2 ** ZOOM;
const mercX = (lng: number) => ((lng + 180) / 360) * WORLD;
const mercY = (lat: number) => {
  const s = Math.sin((lat * Math.PI) / 180);
  return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * WORLD;
};
const unmercY = (y: number) => (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / WORLD))) * 180) / Math.PI;
const unmercX = (x: number) => (x / WORLD) * 360 - 180;

export function distanceMeters(a: LatLng, b: LatLng): number {
  const r = (d: number) => (d * Math.PI) / 180;
  const h =
    Math.sin(r(b.lat - a.lat) / 2) ** 2 + Math.cos(r(a.lat)) * Math.cos(r(b.lat)) * Math.sin(r(b.lng - a.lng) / 2) ** 2;
  return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(h)));
}

export interface Pin {
  kind: 'store' | 'home';
  at: LatLng;
  /** Drawn above the pin; '' for none. */
  label: string;
  /** Tells pins of one kind apart (the operations board). @default the kind */
  id?: string;
  /** Marks the pin: 'alert' for an order stuck too long. */
  tone?: 'alert';
}

/** A courier of the operations board. */
export interface CourierMark {
  id: string;
  at: LatLng;
  label?: string;
}

export interface CityMapProps {
  pins: Pin[];
  courier?: LatLng[] | undefined;
  /** More couriers, each at its last position (the operations board). */
  couriers?: CourierMark[] | undefined;
  onPick?: ((at: LatLng) => void) | undefined;
  /** Frame the pins and the courier (true), or the whole city (false, for picking). @default true */
  fit?: boolean;
  label: string;
}

export function CityMap({ pins, courier = [], couriers = [], onPick, fit = true, label }: CityMapProps) {
  const [city, setCity] = useState<City | null>(null);
  const [failed, setFailed] = useState(false);
  const svg = useRef<SVGSVGElement>(null);
  useEffect(() => {
    loadCity().then(setCity, () => setFailed(true));
  }, []);
  const frame = useMemo(() => {
    if (city === null) return null;
    const { north, south, east, west } = city.bounds;
    const origin = [mercX(west), mercY(north)] as const;
    const project = (at: LatLng): [number, number] => [mercX(at.lng) - origin[0], mercY(at.lat) - origin[1]];
    const [w, h] = project({ lat: south, lng: east });
    return { origin, project, w, h, bounds: city.bounds };
  }, [city]);
  if (failed) return <div class="map map-missing">The map could not be loaded.</div>;
  if (city === null || frame === null) return <div class="map map-loading" aria-busy="true" />;
  const { project, w, h } = frame;
  let view = `0 0 ${w.toFixed(1)} ${h.toFixed(1)}`;
  let viewHeight = h;
  const shown = [...pins.map((p) => p.at), ...courier.slice(-1)].map(project);
  if (fit && shown.length >= 2) {
    const xs = shown.map((p) => p[0]);
    const ys = shown.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const side = Math.max(x1 - x0, y1 - y0, 260) * 1.35;
    view = `${((x0 + x1 - side) / 2).toFixed(1)} ${((y0 + y1 - side) / 2).toFixed(1)} ${side.toFixed(1)} ${side.toFixed(1)}`;
    viewHeight = side;
  }
  // Pins keep about the same size on screen whether the map frames a street or the whole city.
  const k = Math.max(1, viewHeight / 440).toFixed(2);
  const points = (path: [number, number][]) =>
    path
      .map(([lat, lng]) =>
        project({ lat, lng })
          .map((n) => n.toFixed(1))
          .join(','),
      )
      .join(' ');
  const streets = [...city.streets].sort((a, b) => Number(Boolean(a.major)) - Number(Boolean(b.major)));

  const pick = (event: MouseEvent) => {
    if (onPick === undefined || svg.current === null) return;
    const m = svg.current.getScreenCTM();
    if (m === null) return;
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(m.inverse());
    const at = { lat: unmercY(p.y + frame.origin[1]), lng: unmercX(p.x + frame.origin[0]) };
    const b = frame.bounds;
    if (at.lat < b.south || at.lat > b.north || at.lng < b.west || at.lng > b.east) return;
    onPick({ lat: Number(at.lat.toFixed(6)), lng: Number(at.lng.toFixed(6)) });
  };
  // The keyboard: Enter drops the pin in the middle, the arrows move it about 25 m.
  const key = (event: KeyboardEvent) => {
    if (onPick === undefined) return;
    const b = frame.bounds;
    const home = pins.find((p) => p.kind === 'home')?.at;
    const step = { lat: 0.000225, lng: 0.00033 };
    const moves: Record<string, [number, number]> = {
      ArrowUp: [1, 0],
      ArrowDown: [-1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
    };
    const move = moves[event.key];
    if (home === undefined && (event.key === 'Enter' || event.key === ' ' || move !== undefined)) {
      onPick({ lat: (b.north + b.south) / 2, lng: (b.east + b.west) / 2 });
    } else if (home !== undefined && move !== undefined) {
      const lat = Math.min(b.north, Math.max(b.south, home.lat + move[0] * step.lat));
      const lng = Math.min(b.east, Math.max(b.west, home.lng + move[1] * step.lng));
      onPick({ lat: Number(lat.toFixed(6)), lng: Number(lng.toFixed(6)) });
    } else return;
    event.preventDefault();
  };
  const last = courier.at(-1);
  return (
    <div class={`map${onPick ? ' pickable' : ''}`}>
      <svg
        ref={svg}
        viewBox={view}
        preserveAspectRatio="xMidYMid meet"
        role="img"
        aria-label={label}
        onClick={pick}
        onKeyDown={key}
        {...((onPick ? { tabindex: '0' } : {}) as Record<string, string>)}
      >
        <rect x={-5 * w} y={-5 * h} width={11 * w} height={11 * h} class="land" />
        {city.parks.map((p) => (
          <polygon key={p.name} class="park" points={points(p.path)} />
        ))}
        {streets.map((s) => (
          <polyline key={`c-${s.name}`} class={`casing${s.major ? ' major' : ''}`} points={points(s.path)} />
        ))}
        {streets.map((s) => (
          <polyline key={`s-${s.name}`} class={`street${s.major ? ' major' : ''}`} points={points(s.path)} />
        ))}
        {city.parks.map((p) => {
          const xs = p.path.map(([lat, lng]) => project({ lat, lng }));
          const cx = xs.reduce((s, q) => s + q[0], 0) / xs.length;
          const cy = xs.reduce((s, q) => s + q[1], 0) / xs.length;
          return (
            <text key={`l-${p.name}`} class="park-label" x={cx} y={cy}>
              {p.name}
            </text>
          );
        })}
        {courier.length > 1 && (
          <polyline
            class="trail"
            points={courier
              .map((c) =>
                project(c)
                  .map((n) => n.toFixed(1))
                  .join(','),
              )
              .join(' ')}
          />
        )}
        {pins.map((pin) => {
          const [x, y] = project(pin.at);
          return (
            <g
              key={pin.id ?? pin.kind}
              class={`pin ${pin.kind}${pin.tone === undefined ? '' : ` ${pin.tone}`}`}
              transform={`translate(${x.toFixed(1)} ${y.toFixed(1)}) scale(${k})`}
            >
              <circle r="13" />
              <text class="glyph">{pin.kind === 'store' ? 'R' : 'H'}</text>
              {pin.label !== '' && (
                <text class="label" y="-20">
                  {pin.label}
                </text>
              )}
            </g>
          );
        })}
        {couriers.map((c) => (
          <Courier key={c.id} at={project(c.at)} scale={k} label={c.label} />
        ))}
        {last !== undefined && <Courier at={project(last)} scale={k} />}
      </svg>
    </div>
  );
}

/** The courier's marker, gliding from where it is drawn to each new position. */
function Courier({ at, scale, label }: { at: [number, number]; scale: string; label?: string | undefined }) {
  const [drawn, setDrawn] = useState(at);
  const from = useRef(at);
  useEffect(() => {
    const start = performance.now();
    const [fx, fy] = from.current;
    let raf = 0;
    const step = (now: number) => {
      const t = Math.min(1, (now - start) / 800);
      const p: [number, number] = [fx + (at[0] - fx) * t, fy + (at[1] - fy) * t];
      from.current = p;
      setDrawn(p);
      if (t < 1) raf = requestAnimationFrame(step);
    };
    raf = requestAnimationFrame(step);
    return () => cancelAnimationFrame(raf);
  }, [at[0], at[1]]);
  return (
    <g
      class="courier"
      data-testid="courier"
      transform={`translate(${drawn[0].toFixed(1)} ${drawn[1].toFixed(1)}) scale(${scale})`}
    >
      <circle class="courier-halo" r="22" />
      <circle class="courier-dot" r="10" />
      {label !== undefined && (
        <text class="courier-label" y="26">
          {label}
        </text>
      )}
    </g>
  );
}
