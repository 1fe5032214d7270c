import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { AdminUser, Role } from './types';

export interface Session {
  user: AdminUser;
  signOut(reason?: string): void;
  /** Refresh the signed-in user (after a password change). */
  refresh(): Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

/** Whether the signed-in role may do this (for showing controls; the API decides). */
export function useCan(...roles: Role[]): boolean {
  return roles.includes(useSession().user.role);
}
