import { Body, Controller, Get, HttpCode, HttpStatus, Post, UseGuards } from '@nestjs/common';
import { AccessToken } from '../auth/auth.service';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { CurrentPrincipal, Principal, RequireScopes } from '../auth/principal';
import { LoginDto } from './dto/login.dto';
import { RegisterDto } from './dto/register.dto';
import { toUserView, UserView } from './user.view';
import { UsersService } from './users.service';

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** Public. */
  @Post('register')
  async register(@Body() dto: RegisterDto): Promise<UserView> {
    return toUserView(await this.users.register(dto));
  }

  /** Public: trades email + password for a JWT the gateway accepts. */
  @Post('login')
  @HttpCode(HttpStatus.OK)
  login(@Body() dto: LoginDto): Promise<AccessToken> {
    return this.users.login(dto);
  }

  @Get('me')
  @UseGuards(JwtAuthGuard)
  @RequireScopes('profile')
  async me(@CurrentPrincipal() p: Principal): Promise<UserView> {
    return toUserView(await this.users.get(p.userId));
  }
}
