// The clock every floor is handed (never Date.now() read deep inside a rule): tests pass their own.
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
