// Certificate lifetimes are told in days: one length of a day, one way to count the days left.

export const DAY_MS = 86_400_000;

/** Whole days from `now` until `when`, rounded down; negative once `when` has passed. */
export function daysLeft(when: Date, now: Date): number {
  return Math.floor((when.getTime() - now.getTime()) / DAY_MS);
}
