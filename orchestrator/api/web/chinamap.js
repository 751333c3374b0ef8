// WGS84 <-> GCJ-02 for base maps published in China, the same algorithm as
// missions/chinamap.py (tested against it), and a Leaflet CRS that draws WGS84 positions
// on GCJ-02 tiles: every layer keeps its WGS84 coordinates, clicks come back in WGS84.
"use strict";
(function () {
  const A = 6378245.0;
  const EE = 0.00669342162296594323;
  const inChina = (lat, lon) => lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  function offsetLat(x, y) {
    let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
    r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
    r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
    return r;
  }
  function offsetLon(x, y) {
    let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
    r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
    r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
    return r;
  }
  function toGcj(lat, lon) {
    if (!inChina(lat, lon)) return [lat, lon];
    const x = lon - 105, y = lat - 35;
    let dlat = offsetLat(x, y), dlon = offsetLon(x, y);
    const rad = (lat * Math.PI) / 180;
    const magic = 1 - EE * Math.sin(rad) ** 2;
    const sq = Math.sqrt(magic);
    dlat = (dlat * 180) / (((A * (1 - EE)) / (magic * sq)) * Math.PI);
    dlon = (dlon * 180) / ((A / sq) * Math.cos(rad) * Math.PI);
    return [lat + dlat, lon + dlon];
  }
  function toWgs(lat, lon) {
    let wlat = lat, wlon = lon;
    for (let i = 0; i < 30; i++) {
      const [glat, glon] = toGcj(wlat, wlon);
      const dlat = glat - lat, dlon = glon - lon;
      if (Math.abs(dlat) < 1e-9 && Math.abs(dlon) < 1e-9) break;
      wlat -= dlat;
      wlon -= dlon;
    }
    return [wlat, wlon];
  }
  function crs() {
    const merc = L.Projection.SphericalMercator;
    const projection = {
      bounds: merc.bounds,
      project(ll) {
        const [lat, lon] = toGcj(ll.lat, ll.lng);
        return merc.project(L.latLng(lat, lon));
      },
      unproject(p) {
        const g = merc.unproject(p);
        const [lat, lon] = toWgs(g.lat, g.lng);
        return L.latLng(lat, lon);
      },
    };
    return L.extend({}, L.CRS.EPSG3857, { code: "GCJ02", projection });
  }
  window.chinamap = { toGcj, toWgs, crs };
})();
