import { ConflictException, Inject, Injectable, Logger, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import * as bcrypt from 'bcrypt';
import { isUUID } from 'class-validator';
import { QueryFailedError, Repository } from 'typeorm';
import { AccessToken, AuthService } from '../auth/auth.service';
import { APP_CONFIG, AppConfig } from '../config/configuration';
import { LoginDto } from './dto/login.dto';
import { RegisterDto } from './dto/register.dto';
import { User } from './user.entity';

const UNIQUE_VIOLATION = '23505';

@Injectable()
export class UsersService {
  private readonly logger = new Logger(UsersService.name);
  /** Compared against when the e-mail is unknown, so login takes as long either way. */
  private dummyHash?: Promise<string>;

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async register(dto: RegisterDto): Promise<User> {
    const passwordHash = await bcrypt.hash(dto.password, this.config.bcryptRounds);
    try {
      const user = await this.users.save(
        this.users.create({ email: dto.email, displayName: dto.displayName, passwordHash }),
      );
      this.logger.log(`registered user ${user.id}`);
      return user;
    } catch (err) {
      if (err instanceof QueryFailedError && (err.driverError as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new ConflictException('a user with this email already exists');
      }
      throw err;
    }
  }

  async login(dto: LoginDto): Promise<AccessToken> {
    const user = await this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('u.email = :email', { email: dto.email })
      .getOne();
    this.dummyHash ??= bcrypt.hash('not-a-real-password', this.config.bcryptRounds);
    const ok = await bcrypt.compare(dto.password, user?.passwordHash ?? (await this.dummyHash));
    if (!user || !ok) {
      throw new UnauthorizedException('wrong email or password');
    }
    return this.auth.issue(user.id, user.email);
  }

  async get(id: string): Promise<User> {
    // A dev issuer token's subject need not be a user id (`devstack token --sub alice`).
    const user = isUUID(id) ? await this.users.findOneBy({ id }) : null;
    if (!user) throw new NotFoundException(`user ${JSON.stringify(id)} not found: the token's subject is not a registered user's id`);
    return user;
  }
}
