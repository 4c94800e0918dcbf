export function sourceHash(): string;
export function ensureBuilt(opts?: { force?: boolean; log?: (message: string) => void }): Promise<boolean>;
