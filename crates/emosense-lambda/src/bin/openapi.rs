//! Lambda function for one route of the EmoSense API (see template.yaml).

fn main() -> Result<(), lambda_http::Error> {
    emosense_lambda::run()
}
