import { Controller, Get } from '@nestjs/common';

@Controller()
export class AppController {
  @Get()
  version(): string {
    return 'v0';
  }
}
