pytest --backend-gates --backend-gates-sarif=reports/backend-gates.sarif \
                       --backend-gates-codeclimate=reports/gl-code-quality.json
