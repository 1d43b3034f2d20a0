/** What verification found about one object: the currency of compare, seeds verification and reports. */
export type FindingKind = 'missing' | 'different' | 'extra' | 'invalid' | 'assertion-failed';

/** Report categories, in the order the human report prints them. */
export const CATEGORIES = [
  'tables',
  'columns',
  'indexes',
  'constraints',
  'triggers',
  'functions',
  'views',
  'sequences',
  'enums',
  'extensions',
  'policies',
  'system data',
  'assertions',
] as const;

export type Category = (typeof CATEGORIES)[number];

export interface Finding {
  readonly kind: FindingKind;
  readonly category: Category;
  /** The object, qualified: `public.users`, `public.users.bio`, `team_roles[name=Accountant]`. */
  readonly object: string;
  /** Errors fail verification; warnings (extra objects without --strict) do not. */
  readonly severity: 'error' | 'warning';
  /** For `different`: the property that differs (`type`, `nullable`, `default`, ...). */
  readonly property?: string;
  readonly have?: unknown;
  readonly want?: unknown;
  /** One human line, e.g. `column public.users.bio is missing`. */
  readonly message: string;
}
