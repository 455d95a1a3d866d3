// Insurance records: append-only; "latest" is the newest with the asked `is_primary` flag.
import { DomainError } from './errors.ts';
import { newId } from './ids.ts';
import { companyFor, type Company } from './payors.ts';
import { normalizeAddress, type Address, type DemographicsInput, type Guarantor } from './demographics.ts';
import type { UsersService } from './users/service.ts';
import { NO_OUTBOX, type EventOutbox } from './webhooks/ports.ts';
import { userEvent } from './webhooks/events.ts';

export const RELATIONSHIPS = ['Self', 'Spouse', 'Other'] as const;
export const INSURED_GENDERS = ['female', 'male', 'other', 'unknown'] as const;

export interface Insured {
  first_name: string;
  last_name: string;
  gender: string;
  address: Address;
  dob: string;
  email: string;
  phone_number: string;
}

export interface Insurance {
  payor_code: string;
  member_id: string;
  group_id: string | null;
  relationship: string;
  insured: Insured;
  guarantor: Guarantor | null;
  is_primary: boolean;
  company: Company;
}

export type InsuranceInput = Omit<Insurance, 'company' | 'is_primary' | 'group_id' | 'guarantor' | 'insured'> & {
  insured: Omit<Insured, 'address'> & { address: DemographicsInput['address'] };
  group_id?: string | null;
  guarantor?: (Omit<Guarantor, 'address' | 'household_income' | 'household_size' | 'email'> & { address: DemographicsInput['address']; household_income?: number | null; household_size?: number | null; email?: string | null }) | null;
  is_primary?: boolean;
};

export interface InsuranceRepo {
  /** Appends a record for a live user; false when no live user has that id. */
  append(teamId: string, userId: string, id: string, record: Insurance, keyId: string | null, at: Date): Promise<boolean>;
  latest(teamId: string, userId: string, isPrimary: boolean): Promise<Insurance | null>;
}

export class InsuranceService {
  constructor(private readonly repo: InsuranceRepo, private readonly users: UsersService, private readonly now: () => Date = () => new Date(), private readonly events: EventOutbox = NO_OUTBOX) {}

  async create(teamId: string, userId: string, input: InsuranceInput, keyId: string | null): Promise<Insurance> {
    const g = input.guarantor;
    const record: Insurance = {
      payor_code: input.payor_code,
      member_id: input.member_id,
      group_id: input.group_id ?? null,
      relationship: input.relationship,
      // Field by field (security review C7): nothing but the contract's fields reaches the PHI record.
      insured: { first_name: input.insured.first_name, last_name: input.insured.last_name, gender: input.insured.gender, email: input.insured.email, phone_number: input.insured.phone_number, dob: input.insured.dob.slice(0, 10), address: normalizeAddress(input.insured.address) },
      guarantor: g ? { first_name: g.first_name, last_name: g.last_name, address: normalizeAddress(g.address), phone_number: g.phone_number, household_income: g.household_income ?? null, household_size: g.household_size ?? null, email: g.email ?? null } : null,
      is_primary: input.is_primary ?? true,
      company: companyFor(input.payor_code),
    };
    const now = this.now();
    if (!(await this.events.emit(teamId, () => this.repo.append(teamId, userId, newId(now.getTime()), record, keyId, now), (ok) => (ok ? [userEvent('user.updated', teamId, userId, now)] : [])))) {
      throw new DomainError('user_not_found', 'User not found');
    }
    return record;
  }

  async latest(teamId: string, userId: string, isPrimary: boolean): Promise<Insurance> {
    await this.users.requireLive(teamId, userId);
    const r = await this.repo.latest(teamId, userId, isPrimary);
    if (!r) throw new DomainError('insurance_not_found', 'Insurance not found');
    return r;
  }
}
