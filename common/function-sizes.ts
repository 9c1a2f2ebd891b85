// The sizes the cloud functions are deployed with, in one place: the CDK
// construct deploys them and the local backend's billing meter prices
// their duration with them, so the two cannot drift apart.

/** Memory of each function (MB); Lambda bills duration per GB-second of it. */
export const FUNCTION_MEMORY_MB = { reader: 512, admin: 1024 } as const;

export type FunctionName = keyof typeof FUNCTION_MEMORY_MB;

/** How often the scheduled collection of old generations invokes the admin function (minutes). */
export const COLLECT_EVERY_MINUTES = 5;
