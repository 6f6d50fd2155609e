import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { PlaceOrderDto } from '../src/orders/dto/place-order.dto';
import { RegisterDto } from '../src/users/dto/register.dto';

async function errors<T extends object>(cls: new () => T, plain: object): Promise<string[]> {
  const dto = plainToInstance(cls, plain);
  const result = await validate(dto, { whitelist: true, forbidNonWhitelisted: true });
  const props: string[] = [];
  const walk = (errs: typeof result, prefix: string) =>
    errs.forEach((e) => {
      if (e.constraints) props.push(prefix + e.property);
      walk(e.children ?? [], `${prefix}${e.property}.`);
    });
  walk(result, '');
  return props;
}

describe('PlaceOrderDto', () => {
  const ok = { items: [{ sku: 'book', quantity: 2, unitPriceCents: 1250 }], currency: 'EUR' };
  it.each([
    ['a valid order', ok, []],
    ['with a shipping country', { ...ok, shippingCountry: 'FR' }, []],
    ['no items', { ...ok, items: [] }, ['items']],
    ['a zero quantity', { ...ok, items: [{ sku: 'book', quantity: 0, unitPriceCents: 1 }] }, ['items.0.quantity']],
    ['a fractional price', { ...ok, items: [{ sku: 'b', quantity: 1, unitPriceCents: 1.5 }] }, ['items.0.unitPriceCents']],
    ['an empty sku', { ...ok, items: [{ sku: '', quantity: 1, unitPriceCents: 1 }] }, ['items.0.sku']],
    ['a lower-case currency', { ...ok, currency: 'eur' }, ['currency']],
    ['a bad country', { ...ok, shippingCountry: 'Germany' }, ['shippingCountry']],
    ['an unknown field', { ...ok, totalCents: 1 }, ['totalCents']],
  ])('%s', async (_name, plain, want) => {
    expect(await errors(PlaceOrderDto, plain)).toEqual(want);
  });
});

describe('RegisterDto', () => {
  const ok = { email: 'Alice@Example.COM ', password: 'correct-horse-1', displayName: ' Alice ' };
  it('normalises email and display name', () => {
    const dto = plainToInstance(RegisterDto, ok);
    expect(dto.email).toBe('alice@example.com');
    expect(dto.displayName).toBe('Alice');
  });
  it.each([
    ['a valid user', ok, []],
    ['a bad email', { ...ok, email: 'alice' }, ['email']],
    ['a short password', { ...ok, password: 'abc1' }, ['password']],
    ['a password without digits', { ...ok, password: 'correct-horse' }, ['password']],
    ['a password over 72 characters', { ...ok, password: 'a1'.repeat(37) }, ['password']],
    ['no display name', { ...ok, displayName: '' }, ['displayName']],
  ])('%s', async (_name, plain, want) => {
    expect(await errors(RegisterDto, plain)).toEqual(want);
  });
});
