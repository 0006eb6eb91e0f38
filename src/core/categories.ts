/** Exposure categories, in the spec's order. A record's exposure is a bit mask over them. */
export const CATEGORIES = ['name', 'email', 'location', 'device', 'referrer', 'ids', 'url', 'ip', 'secret'] as const;
export type Category = (typeof CATEGORIES)[number];

export const CAT: Record<Category, number> = Object.fromEntries(CATEGORIES.map((c, i) => [c, 1 << i])) as Record<Category, number>;

export function categoriesOf(mask: number): Category[] {
  return CATEGORIES.filter((c) => (mask & CAT[c]) !== 0);
}

/** Words a notice uses for each category. */
export const CATEGORY_WORDS: Record<Category, string> = {
  name: 'your name',
  email: 'your email address',
  location: 'your approximate location (city, region, country)',
  device: 'your operating system, browser or device model',
  referrer: 'the websites that referred you',
  ids: 'account, device or organization identifiers',
  url: 'addresses of pages you visited',
  ip: 'your IP address',
  secret: 'a value that looks like a credential (API key, token or password)',
};
