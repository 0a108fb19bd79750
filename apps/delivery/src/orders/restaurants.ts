/**
 * The demo restaurants: the three stores of the demo city (`web/city.json`), each with a menu,
 * delivering anywhere inside the city's bounds. The API seeds them into container `restaurants`
 * when missing; the processor prices orders from what is stored there.
 * @module
 */
import { type City, loadCity } from '../city.ts';
import type { MenuItem, Restaurant } from './rules.ts';

const item = (id: string, name: string, priceCents: number, description: string): MenuItem => ({
  id,
  name,
  description,
  priceCents,
  available: true,
});

const menus: Record<number, { id: string; cuisine: string; feeCents: number; menu: MenuItem[] }> = {
  7: {
    id: 'pike-street-pizza',
    cuisine: 'Pizza',
    feeCents: 299,
    menu: [
      item('margherita', 'Margherita', 1400, 'Tomato, mozzarella, basil'),
      item('pepperoni', 'Pepperoni', 1600, 'Tomato, mozzarella, pepperoni'),
      item('funghi', 'Funghi', 1550, 'Mushrooms, garlic, mozzarella'),
      item('caesar', 'Caesar salad', 900, 'Romaine, parmesan, croutons'),
      item('tiramisu', 'Tiramisu', 700, 'Espresso, mascarpone, cocoa'),
    ],
  },
  12: {
    id: 'broadway-noodle-bar',
    cuisine: 'Noodles',
    feeCents: 349,
    menu: [
      item('tonkotsu', 'Tonkotsu ramen', 1650, 'Pork broth, chashu, egg'),
      item('shoyu', 'Shoyu ramen', 1500, 'Soy broth, chicken, bamboo'),
      item('dan-dan', 'Dan dan noodles', 1350, 'Sesame, chili, pork'),
      item('gyoza', 'Gyoza (6)', 750, 'Pan-fried pork dumplings'),
      item('iced-tea', 'Iced barley tea', 350, 'Unsweetened'),
    ],
  },
  21: {
    id: '15th-ave-tacos',
    cuisine: 'Mexican',
    feeCents: 199,
    menu: [
      item('al-pastor', 'Tacos al pastor (3)', 1200, 'Pork, pineapple, onion, cilantro'),
      item('carnitas', 'Carnitas burrito', 1350, 'Pork, rice, beans, salsa verde'),
      item('veggie', 'Veggie bowl', 1150, 'Rice, black beans, roasted peppers'),
      item('chips', 'Chips & guacamole', 650, 'Made to order'),
      item('horchata', 'Horchata', 400, 'Rice, cinnamon, vanilla'),
    ],
  },
};

/** The demo restaurants, placed where the city's stores are. */
export function demoRestaurants(city: City = loadCity()): Restaurant[] {
  return city.stores.flatMap((store) => {
    const m = menus[store.storeid];
    if (m === undefined) return [];
    return [
      {
        id: m.id,
        storeId: store.storeid,
        name: store.name,
        cuisine: m.cuisine,
        location: { lat: store.at[0], lng: store.at[1] },
        deliveryFeeCents: m.feeCents,
        currency: 'USD',
        open: true,
        deliveryArea: city.bounds,
        menu: m.menu,
      },
    ];
  });
}
