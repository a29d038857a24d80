//! Vercel function for `GET /api/v1/openapi.json` (see vercel.json).

fn main() -> Result<(), emosense_vercel::Error> {
    emosense_vercel::run()
}
