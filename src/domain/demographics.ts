// Demographics (Junction's user info): versioned, append-only; "latest" is the newest version.
// The record keeps Junction's field names: it is the vocabulary of health-record exchange here.
import { DomainError } from './errors.ts';
import { newId } from './ids.ts';
import type { UsersService } from './users/service.ts';
import { NO_OUTBOX, type EventOutbox } from './webhooks/ports.ts';
import { userEvent } from './webhooks/events.ts';

export interface Address {
  first_line: string;
  second_line: string | null;
  country: string;
  zip: string;
  city: string;
  state: string;
  access_notes: string | null;
}

export interface Guarantor {
  first_name: string;
  last_name: string;
  address: Address;
  phone_number: string;
  household_income: number | null;
  household_size: number | null;
  email: string | null;
}

export const RACES = ['african_american_or_black', 'asian', 'indigenous_native_american_alaska_native', 'other', 'pacific_islander_or_hawaiian', 'white_caucasian'] as const;
export const ETHNICITIES = ['hispanic', 'non_hispanic', 'ashkenazi_jewish', 'other'] as const;
export const SEXUAL_ORIENTATIONS = ['lesbian_gay_or_homosexual', 'heterosexual_or_straight', 'bisexual', 'dont_know', 'other'] as const;
export const GENDER_IDENTITIES = ['male', 'female', 'female_to_male_ftm_transgender_male_trans_man', 'male_to_female_mtf_transgender_female_trans_woman', 'genderqueer', 'other'] as const;

export interface Demographics {
  first_name: string;
  last_name: string;
  email: string;
  phone_number: string;
  gender: string;
  dob: string;
  address: Address;
  medical_proxy: Guarantor | null;
  race: string | null;
  ethnicity: string | null;
  sexual_orientation: string | null;
  gender_identity: string | null;
}

/** A guarantor as sent: optional keys may be absent. */
export type GuarantorInput = Omit<Guarantor, 'address' | 'household_income' | 'household_size' | 'email'> & {
  address: Omit<Address, 'second_line' | 'access_notes'> & { second_line?: string | null; access_notes?: string | null };
  household_income?: number | null;
  household_size?: number | null;
  email?: string | null;
};

/** Optional parts of a write: undefined = keep the previous version's value, null = clear. */
export type DemographicsInput = Omit<Demographics, 'medical_proxy' | 'race' | 'ethnicity' | 'sexual_orientation' | 'gender_identity' | 'address'> & {
  address: Omit<Address, 'second_line' | 'access_notes'> & { second_line?: string | null; access_notes?: string | null };
  medical_proxy?: GuarantorInput | null;
  race?: string | null;
  ethnicity?: string | null;
  sexual_orientation?: string | null;
  gender_identity?: string | null;
};

export interface DemographicsVersion {
  id: string;
  data: Demographics;
  keyId: string | null;
  createdAt: Date;
}

export interface DemographicsRepo {
  /**
   * Under a lock on the live user, reads the latest version, lets `merge` build the next one and
   * appends it. Null when no live user has that id.
   */
  append(teamId: string, userId: string, merge: (prev: Demographics | null) => DemographicsVersion): Promise<DemographicsVersion | null>;
  latest(teamId: string, userId: string): Promise<DemographicsVersion | null>;
  history(teamId: string, userId: string): Promise<DemographicsVersion[]>;
}

const OPTIONAL = ['medical_proxy', 'race', 'ethnicity', 'sexual_orientation', 'gender_identity'] as const;

export function normalizeAddress(a: DemographicsInput['address']): Address {
  return { first_line: a.first_line, second_line: a.second_line ?? '', country: a.country, zip: a.zip, city: a.city, state: a.state, access_notes: a.access_notes ?? null };
}

/** A guarantor as stored: normalised address, absent optional keys as null (every key is emitted). */
export function normalizeGuarantor(g: GuarantorInput | null | undefined): Guarantor | null | undefined {
  if (g == null) return g;
  return { first_name: g.first_name, last_name: g.last_name, address: normalizeAddress(g.address), phone_number: g.phone_number, household_income: g.household_income ?? null, household_size: g.household_size ?? null, email: g.email ?? null };
}

export class DemographicsService {
  constructor(private readonly repo: DemographicsRepo, private readonly users: UsersService, private readonly now: () => Date = () => new Date(), private readonly events: EventOutbox = NO_OUTBOX) {}

  async upsert(teamId: string, userId: string, input: DemographicsInput, keyId: string | null): Promise<Demographics> {
    const v = await this.events.emit(teamId, () => this.repo.append(teamId, userId, (prev) => {
      const data = {
        first_name: input.first_name,
        last_name: input.last_name,
        email: input.email,
        phone_number: input.phone_number,
        gender: input.gender,
        dob: input.dob.slice(0, 10),
        address: normalizeAddress(input.address),
      } as Demographics;
      for (const k of OPTIONAL) {
        const given = k === 'medical_proxy' ? normalizeGuarantor(input.medical_proxy) : input[k];
        (data as unknown as Record<string, unknown>)[k] = given !== undefined ? given : prev?.[k] ?? null;
      }
      const now = this.now();
      return { id: newId(now.getTime()), data, keyId, createdAt: now };
    }), (r) => (r ? [userEvent('user.updated', teamId, userId, r.createdAt)] : []));
    if (!v) {
      await this.users.requireLive(teamId, userId);
      throw new DomainError('user_not_found', 'User not found');
    }
    return v.data;
  }

  /** Readable while the user is live or inside its undo window (contract U5). */
  async latest(teamId: string, userId: string): Promise<Demographics> {
    await this.users.requireExisting(teamId, userId);
    const v = await this.repo.latest(teamId, userId);
    if (!v) throw new DomainError('demographics_not_found', 'User demographics data not found');
    return v.data;
  }

  /** Latest demographics of a live user, or null (portal precondition). */
  async latestOrNull(teamId: string, userId: string): Promise<Demographics | null> {
    return (await this.repo.latest(teamId, userId))?.data ?? null;
  }
}
