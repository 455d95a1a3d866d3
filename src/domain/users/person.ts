// Rules for people's details in health records (demographics, insured persons, guarantors).

/**
 * Junction's lab name rule: starts with an ASCII letter or digit; then ASCII letters, digits,
 * - . , ' and single spaces between words (no leading, trailing or double spaces, no accents).
 */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9\-.,']*( [A-Za-z0-9\-.,']+)*$/;
export const isValidPersonName = (s: string): boolean => s.length <= 200 && NAME_RE.test(s);
export const PERSON_NAME_RULE = 'must start with an ASCII letter or digit and hold only ASCII letters, digits, - . , \' and single spaces between words';

/** At least 10 digits; only digits, spaces, ( ) + -. */
export function isValidPhone(s: string): boolean {
  if (!/^[0-9 ()+\-]+$/.test(s)) return false;
  return (s.match(/[0-9]/g)?.length ?? 0) >= 10 && s.length <= 32;
}

/** Why an e-mail address is not valid (wording of python email-validator), or null. */
export function emailProblem(s: string): string | null {
  if (s.length > 254) return 'The email address is too long.';
  const at = s.lastIndexOf('@');
  if (at < 0) return 'An email address must have an @-sign.';
  const local = s.slice(0, at);
  const domain = s.slice(at + 1);
  if (local.length === 0) return 'There must be something before the @-sign.';
  if (domain.length === 0) return 'There must be something after the @-sign.';
  if (local.length > 64) return 'The email address is too long before the @-sign.';
  if (/\s/.test(s)) return 'The email address contains invalid characters.';
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-\u0080-\uffff]+$/.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return 'The email address contains invalid characters before the @-sign.';
  }
  if (!domain.includes('.')) return 'The part after the @-sign is not valid. It should have a period.';
  if (!/^[A-Za-z0-9.\-\u0080-\uffff]+$/.test(domain) || domain.startsWith('.') || domain.endsWith('.') || domain.includes('..')) {
    return 'The part after the @-sign contains invalid characters.';
  }
  return null;
}
