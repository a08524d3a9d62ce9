// Drawing a site on the Leaflet map (a point or a polygon), reading one from a GeoJSON or
// KML file, and measuring distances. No plugin: a few click handlers.

const SITE_STYLE = { color: '#1b5ea8', weight: 2, fillOpacity: 0.25 };

/** Geodesic distance (m) on the WGS 84 ellipsoid by Vincenty's inverse formula. */
export function geodesicMetres(a, b) {
  const A = 6378137, F = 1 / 298.257223563, B = A * (1 - F);
  const rad = Math.PI / 180;
  const L = (b.lng - a.lng) * rad;
  const U1 = Math.atan((1 - F) * Math.tan(a.lat * rad));
  const U2 = Math.atan((1 - F) * Math.tan(b.lat * rad));
  const sinU1 = Math.sin(U1), cosU1 = Math.cos(U1), sinU2 = Math.sin(U2), cosU2 = Math.cos(U2);
  let lambda = L, sigma = 0, sinSigma = 0, cosSigma = 1, cos2Alpha = 1, cos2SigmaM = 0;
  for (let i = 0; i < 200; i += 1) {
    const sinL = Math.sin(lambda), cosL = Math.cos(lambda);
    sinSigma = Math.hypot(cosU2 * sinL, cosU1 * sinU2 - sinU1 * cosU2 * cosL);
    if (sinSigma === 0) return 0;
    cosSigma = sinU1 * sinU2 + cosU1 * cosU2 * cosL;
    sigma = Math.atan2(sinSigma, cosSigma);
    const sinAlpha = (cosU1 * cosU2 * sinL) / sinSigma;
    cos2Alpha = 1 - sinAlpha * sinAlpha;
    cos2SigmaM = cos2Alpha ? cosSigma - (2 * sinU1 * sinU2) / cos2Alpha : 0;
    const C = (F / 16) * cos2Alpha * (4 + F * (4 - 3 * cos2Alpha));
    const previous = lambda;
    lambda = L + (1 - C) * F * sinAlpha * (sigma + C * sinSigma * (cos2SigmaM + C * cosSigma * (-1 + 2 * cos2SigmaM ** 2)));
    if (Math.abs(lambda - previous) < 1e-12) break;
  }
  const u2 = (cos2Alpha * (A * A - B * B)) / (B * B);
  const k1 = (Math.sqrt(1 + u2) - 1) / (Math.sqrt(1 + u2) + 1);
  const bigA = (1 + (k1 * k1) / 4) / (1 - k1);
  const bigB = k1 * (1 - (3 / 8) * k1 * k1);
  const deltaSigma = bigB * sinSigma * (cos2SigmaM + (bigB / 4) * (cosSigma * (-1 + 2 * cos2SigmaM ** 2)
    - (bigB / 6) * cos2SigmaM * (-3 + 4 * sinSigma ** 2) * (-3 + 4 * cos2SigmaM ** 2)));
  return B * bigA * (sigma - deltaSigma);
}

/** The first Point, Polygon or LineString of a GeoJSON object, as a geometry. */
export function geometryFromGeoJSON(data) {
  if (!data || typeof data !== 'object') return null;
  if (data.type === 'FeatureCollection') {
    for (const feature of data.features || []) {
      const found = geometryFromGeoJSON(feature);
      if (found) return found;
    }
    return null;
  }
  if (data.type === 'Feature') return geometryFromGeoJSON(data.geometry);
  if (['Point', 'Polygon', 'LineString', 'MultiPolygon'].includes(data.type)) return data;
  return null;
}

function kmlCoordinates(text) {
  return text.trim().split(/\s+/).map((tuple) => tuple.split(',').slice(0, 2).map(Number));
}

/** The first Point or Polygon of a KML document, as a GeoJSON geometry. */
export function geometryFromKML(text) {
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  const polygon = doc.querySelector('Polygon outerBoundaryIs coordinates, Polygon coordinates');
  if (polygon) return { type: 'Polygon', coordinates: [kmlCoordinates(polygon.textContent)] };
  const point = doc.querySelector('Point coordinates');
  if (point) return { type: 'Point', coordinates: kmlCoordinates(point.textContent)[0] };
  return null;
}

/** The site tools of one map: `onSite(geometry)` is told of every new site. */
export class SiteTools {
  constructor(map, { onSite, onMeasure }) {
    this.map = map;
    this.onSite = onSite;
    this.onMeasure = onMeasure;
    this.mode = null;
    this.vertices = [];
    this.layer = L.layerGroup().addTo(map);
    this.measureLayer = L.layerGroup().addTo(map);
    this.measurePoints = [];
    map.on('click', (event) => this._click(event.latlng));
    map.on('dblclick', (event) => {
      if (this.mode === 'polygon') { L.DomEvent.stop(event); this.finish(); }
    });
  }

  setMode(mode) {
    this.mode = this.mode === mode ? null : mode;
    this.vertices = [];
    if (this.mode === 'measure') { this.measurePoints = []; this.measureLayer.clearLayers(); }
    this.map.doubleClickZoom[this.mode === 'polygon' ? 'disable' : 'enable']();
    return this.mode;
  }

  _click(latlng) {
    if (this.mode === 'point') {
      this.mode = null;
      this.show({ type: 'Point', coordinates: [latlng.lng, latlng.lat] });
    } else if (this.mode === 'polygon') {
      this.vertices.push(latlng);
      this.layer.clearLayers();
      L.polyline(this.vertices, SITE_STYLE).addTo(this.layer);
      this.vertices.forEach((v) => L.circleMarker(v, { radius: 3, ...SITE_STYLE }).addTo(this.layer));
    } else if (this.mode === 'measure') {
      this.measurePoints.push(latlng);
      L.circleMarker(latlng, { radius: 3, color: '#333' }).addTo(this.measureLayer);
      if (this.measurePoints.length > 1) {
        L.polyline(this.measurePoints, { color: '#333', dashArray: '4 3', weight: 2 }).addTo(this.measureLayer);
        let total = 0;
        for (let i = 1; i < this.measurePoints.length; i += 1) {
          total += geodesicMetres(this.measurePoints[i - 1], this.measurePoints[i]);
        }
        this.onMeasure(total);
      }
    }
  }

  /** Close the polygon being drawn (three vertices at least). */
  finish() {
    if (this.mode !== 'polygon' || this.vertices.length < 3) return false;
    const ring = this.vertices.map((v) => [v.lng, v.lat]);
    ring.push(ring[0]);
    this.mode = null;
    this.map.doubleClickZoom.enable();
    this.show({ type: 'Polygon', coordinates: [ring] });
    return true;
  }

  /** Show a site (GeoJSON geometry) and tell the page. */
  show(geometry, { fit = false } = {}) {
    this.layer.clearLayers();
    const shape = L.geoJSON(geometry, {
      style: () => SITE_STYLE,
      pointToLayer: (feature, latlng) => L.circleMarker(latlng, { radius: 7, ...SITE_STYLE, fillOpacity: 0.8 }),
    }).addTo(this.layer);
    if (fit) this.map.fitBounds(shape.getBounds(), { maxZoom: 16, padding: [30, 30] });
    this.onSite(geometry);
  }
}
