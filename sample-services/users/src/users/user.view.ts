import { User } from './user.entity';

/** What the API shows of a user (never the password hash). */
export interface UserView {
  id: string;
  email: string;
  displayName: string;
  createdAt: string;
}

export function toUserView(u: User): UserView {
  return { id: u.id, email: u.email, displayName: u.displayName, createdAt: u.createdAt.toISOString() };
}
