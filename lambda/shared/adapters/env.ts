/**
 * Reads a required environment variable. Handlers call this at module scope, so a
 * misconfigured function fails at cold start with the variable's name, not later.
 */
export const requireEnv = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    throw new Error(`Missing required environment variable ${name}`);
  }
  return value;
};
