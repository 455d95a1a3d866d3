// Payor code → insurance company, for the `company` of Junction's insurance records. A small table
// kept in the repo; unknown codes are accepted and named after their code (contract U6).
import type { Address } from './demographics.ts';

export interface Company { name: string; address: Address }

const addr = (first_line: string, city: string, state: string, zip: string): Address => ({ first_line, second_line: '', country: 'US', zip, city, state, access_notes: null });

const PAYORS: Record<string, Company> = {
  AETNA: { name: 'Aetna', address: addr('151 Farmington Avenue', 'Hartford', 'CT', '06156') },
  CIGNA: { name: 'Cigna', address: addr('900 Cottage Grove Road', 'Bloomfield', 'CT', '06002') },
  UHC: { name: 'UnitedHealthcare', address: addr('9900 Bren Road East', 'Minnetonka', 'MN', '55343') },
  HUMANA: { name: 'Humana', address: addr('500 West Main Street', 'Louisville', 'KY', '40202') },
  ANTHEM: { name: 'Anthem Blue Cross Blue Shield', address: addr('220 Virginia Avenue', 'Indianapolis', 'IN', '46204') },
  BCBS: { name: 'Blue Cross Blue Shield', address: addr('225 North Michigan Avenue', 'Chicago', 'IL', '60601') },
  KAISER: { name: 'Kaiser Permanente', address: addr('1 Kaiser Plaza', 'Oakland', 'CA', '94612') },
  CENTENE: { name: 'Centene', address: addr('7700 Forsyth Boulevard', 'St. Louis', 'MO', '63105') },
  MOLINA: { name: 'Molina Healthcare', address: addr('200 Oceangate', 'Long Beach', 'CA', '90802') },
  TRICARE: { name: 'TRICARE', address: addr('7700 Arlington Boulevard', 'Falls Church', 'VA', '22042') },
  MEDFED: { name: 'Medicare', address: addr('7500 Security Boulevard', 'Baltimore', 'MD', '21244') },
  MAIDFED: { name: 'Medicaid', address: addr('7500 Security Boulevard', 'Baltimore', 'MD', '21244') },
};

/** Placeholder address for companies Roster does not know. */
const UNKNOWN_ADDRESS = addr('Unknown', 'Unknown', 'NA', '00000');

export function companyFor(payorCode: string): Company {
  return PAYORS[payorCode.toUpperCase()] ?? { name: payorCode, address: UNKNOWN_ADDRESS };
}
