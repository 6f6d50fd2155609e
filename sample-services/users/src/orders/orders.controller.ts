import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Query, Req, UseGuards } from '@nestjs/common';
import { JwtAuthGuard } from '../auth/jwt-auth.guard';
import { AuthedRequest, CurrentPrincipal, Principal, RequireScopes } from '../auth/principal';
import { RequestId } from '../common/request-id.middleware';
import { ListOrdersQuery, PlaceOrderDto } from './dto/place-order.dto';
import { toOrderView, OrderView } from './order.view';
import { OrdersService } from './orders.service';

@Controller('orders')
@UseGuards(JwtAuthGuard)
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post()
  @RequireScopes('orders:write')
  async place(
    @CurrentPrincipal() p: Principal,
    @Body() dto: PlaceOrderDto,
    @Req() req: AuthedRequest,
  ): Promise<OrderView> {
    return toOrderView(await this.orders.place(p.userId, dto, RequestId(req)));
  }

  /** The caller's orders, newest first. */
  @Get()
  @RequireScopes('orders:read')
  async list(@CurrentPrincipal() p: Principal, @Query() q: ListOrdersQuery): Promise<OrderView[]> {
    return (await this.orders.list(p.userId, q.limit)).map(toOrderView);
  }

  @Get(':id')
  @RequireScopes('orders:read')
  async get(@CurrentPrincipal() p: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<OrderView> {
    return toOrderView(await this.orders.get(p.userId, id));
  }
}
