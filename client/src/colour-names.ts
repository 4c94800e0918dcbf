/**
 * Readable names for palette colours (swatch titles and aria labels, pixel info): the names r/place's own
 * palettes used, and for any other colour a plain description from its hue and lightness.
 */
const KNOWN: Record<number, string> = {
  0xffffff: 'White', 0xd4d7d9: 'Light grey', 0x898d90: 'Grey', 0x515252: 'Dark grey', 0x000000: 'Black',
  0x6d001a: 'Burgundy', 0xbe0039: 'Dark red', 0xff4500: 'Red', 0xffa800: 'Orange', 0xffd635: 'Yellow',
  0xfff8b8: 'Pale yellow', 0x00a368: 'Dark green', 0x00cc78: 'Green', 0x7eed56: 'Light green',
  0x00756f: 'Dark teal', 0x009eaa: 'Teal', 0x00ccc0: 'Light teal', 0x2450a4: 'Dark blue', 0x3690ea: 'Blue',
  0x51e9f4: 'Light blue', 0x493ac1: 'Indigo', 0x6a5cff: 'Periwinkle', 0x94b3ff: 'Lavender',
  0x811e9f: 'Dark purple', 0xb44ac0: 'Purple', 0xe4abff: 'Pale purple', 0xde107f: 'Magenta', 0xff3881: 'Pink',
  0xff99aa: 'Light pink', 0x6d482f: 'Dark brown', 0x9c6926: 'Brown', 0xffb470: 'Beige',
  // r/place 2017
  0xe4e4e4: 'Light grey', 0x888888: 'Grey', 0x222222: 'Black', 0xffa7d1: 'Pink', 0xe50000: 'Red',
  0xe59500: 'Orange', 0xa06a42: 'Brown', 0xe5d900: 'Yellow', 0x94e044: 'Light green', 0x02be01: 'Green',
  0x00d3dd: 'Cyan', 0x0083c7: 'Blue', 0x0000ea: 'Dark blue', 0xcf6ee4: 'Light purple', 0x820080: 'Purple',
};

const HUES: [number, string][] = [
  [15, 'red'], [40, 'orange'], [65, 'yellow'], [160, 'green'], [195, 'cyan'], [250, 'blue'], [290, 'purple'], [335, 'pink'], [360, 'red'],
];

/** A name for 0xRRGGBB. */
export function colourName(rgb: number): string {
  const known = KNOWN[rgb];
  if (known !== undefined) return known;
  const r = ((rgb >>> 16) & 255) / 255, g = ((rgb >>> 8) & 255) / 255, b = (rgb & 255) / 255;
  const max = Math.max(r, g, b), min = Math.min(r, g, b);
  const l = (max + min) / 2;
  const d = max - min;
  const s = d === 0 ? 0 : d / (1 - Math.abs(2 * l - 1));
  if (s < 0.15) return l > 0.9 ? 'White' : l < 0.1 ? 'Black' : l > 0.6 ? 'Light grey' : l < 0.35 ? 'Dark grey' : 'Grey';
  let h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  h = (h * 60 + 360) % 360;
  const hue = HUES.find(([limit]) => h < limit)![1];
  const shade = l > 0.75 ? 'Pale ' : l > 0.6 ? 'Light ' : l < 0.3 ? 'Dark ' : '';
  const name = shade + hue;
  return name[0]!.toUpperCase() + name.slice(1);
}

export function hexOf(rgb: number): string {
  return `#${rgb.toString(16).padStart(6, '0')}`;
}
