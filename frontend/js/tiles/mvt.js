// A Mapbox Vector Tile (MVT 2.1) decoder: protobuf bytes → layers of features whose
// geometries are arrays of rings/lines/points in tile coordinates (0…extent).
// Written for the tile worker (no DOM); spec: https://github.com/mapbox/vector-tile-spec

const WIRE_VARINT = 0;
const WIRE_64BIT = 1;
const WIRE_BYTES = 2;
const WIRE_32BIT = 5;

export const GEOMETRY_TYPES = { 1: 'Point', 2: 'LineString', 3: 'Polygon' };

const utf8 = new TextDecoder();

/** A cursor over protobuf bytes. */
class Reader {
  constructor(bytes, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  varint() {
    // Multiplication, not shifts, so values past 2^31 (64-bit ids) stay exact up to 2^53.
    let value = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error('MVT: truncated varint');
      const byte = this.bytes[this.pos++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  }

  zigzag() {
    const value = this.varint();
    return value % 2 === 1 ? -(value + 1) / 2 : value / 2;
  }

  /** The bounds of a length-delimited field; the cursor moves past it. */
  slice() {
    const length = this.varint();
    const start = this.pos;
    this.pos += length;
    if (this.pos > this.end) throw new Error('MVT: truncated field');
    return [start, this.pos];
  }

  string() {
    const [start, end] = this.slice();
    return utf8.decode(this.bytes.subarray(start, end));
  }

  packed() {
    const [start, end] = this.slice();
    const values = [];
    const outer = this.end;
    this.end = end;
    this.pos = start;
    while (this.pos < end) values.push(this.varint());
    this.end = outer;
    return values;
  }

  skip(wire) {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_64BIT) this.pos += 8;
    else if (wire === WIRE_BYTES) this.slice();
    else if (wire === WIRE_32BIT) this.pos += 4;
    else throw new Error(`MVT: unknown wire type ${wire}`);
  }

  /** Call `field(number, wire)` for each field up to `end`; it reads or returns false to skip. */
  fields(field) {
    while (this.pos < this.end) {
      const key = this.varint();
      const number = Math.floor(key / 8);
      const wire = key % 8;
      if (field(number, wire) === false) this.skip(wire);
    }
  }

  sub(start, end) { return new Reader(this.bytes, start, end); }
}

function readValue(reader) {
  let value = null;
  reader.fields((number) => {
    switch (number) {
      case 1: value = reader.string(); break;
      case 2: value = reader.view.getFloat32(reader.pos, true); reader.pos += 4; break;
      case 3: value = reader.view.getFloat64(reader.pos, true); reader.pos += 8; break;
      case 4: case 5: value = reader.varint(); break;   // int64 ≥ 0 and uint64 as varints
      case 6: value = reader.zigzag(); break;
      case 7: value = reader.varint() === 1; break;
      default: return false;
    }
    return true;
  });
  return value;
}

/** Geometry commands → [[x, y], …] parts: rings (Polygon), lines, or single points. */
function decodeGeometry(commands) {
  const parts = [];
  let part = null;
  let x = 0;
  let y = 0;
  for (let i = 0; i < commands.length;) {
    const command = commands[i] & 0x7;
    const count = Math.floor(commands[i] / 8);
    i += 1;
    if (command === 7) {                        // ClosePath
      if (part && part.length) part.push(part[0]);
      continue;
    }
    for (let n = 0; n < count; n += 1) {
      const dx = commands[i]; const dy = commands[i + 1];
      i += 2;
      x += dx % 2 === 1 ? -(dx + 1) / 2 : dx / 2;
      y += dy % 2 === 1 ? -(dy + 1) / 2 : dy / 2;
      if (command === 1) {                      // MoveTo starts a part
        part = [];
        parts.push(part);
      }
      part.push([x, y]);
    }
  }
  return parts;
}

function readFeature(reader, keys, values) {
  let tags = [];
  let type = 0;
  let commands = [];
  let id = null;
  reader.fields((number) => {
    if (number === 1) id = reader.varint();
    else if (number === 2) tags = reader.packed();
    else if (number === 3) type = reader.varint();
    else if (number === 4) commands = reader.packed();
    else return false;
    return true;
  });
  const properties = {};
  for (let i = 0; i + 1 < tags.length; i += 2) properties[keys[tags[i]]] = values[tags[i + 1]];
  return { id, type: GEOMETRY_TYPES[type] || 'Unknown', properties, parts: decodeGeometry(commands) };
}

function readLayer(reader) {
  const layer = { name: '', extent: 4096, features: [] };
  const keys = [];
  const values = [];
  const featureSpans = [];
  reader.fields((number) => {
    if (number === 1) layer.name = reader.string();
    else if (number === 2) featureSpans.push(reader.slice());
    else if (number === 3) keys.push(reader.string());
    else if (number === 4) values.push(readValue(reader.sub(...reader.slice())));
    else if (number === 5) layer.extent = reader.varint();
    else return false;
    return true;
  });
  // Features last: their tags index keys and values that may come after them.
  layer.features = featureSpans.map((span) => readFeature(reader.sub(...span), keys, values));
  return layer;
}

/** Decode a tile: {layerName: {name, extent, features: [{id, type, properties, parts}]}}. */
export function decodeTile(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const reader = new Reader(bytes);
  const layers = {};
  reader.fields((number) => {
    if (number !== 3) return false;
    const layer = readLayer(reader.sub(...reader.slice()));
    layers[layer.name] = layer;
    return true;
  });
  return layers;
}
