//! Vercel function for `POST /api/v1/emotion/analyze/multimodal` (see vercel.json).

fn main() -> Result<(), emosense_vercel::Error> {
    emosense_vercel::run()
}
